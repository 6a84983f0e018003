//! The record layer (RFC 8446 §5.1, RFC 5246 §6.2): `TLSPlaintext` records over the bytes of
//! one direction of a stream.

use core::fmt;

use crate::error::{Error, Structure};
use crate::version::TlsVersion;

/// Largest fragment a peer may send: 2^14 plus 2048 bytes of expansion (RFC 5246 §6.2.3).
/// Anything longer is not TLS, or is an attack on the reader's buffers.
pub const MAX_FRAGMENT_LEN: usize = (1 << 14) + 2048;

/// Size of a record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;

/// The record `ContentType` (IANA "TLS ContentType").
///
/// ```
/// use helloscope_tls::ContentType;
/// assert_eq!(ContentType::from_wire(22), Some(ContentType::Handshake));
/// assert_eq!(ContentType::from_wire(99), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ContentType {
    /// change_cipher_spec (20).
    ChangeCipherSpec = 20,
    /// alert (21).
    Alert = 21,
    /// handshake (22).
    Handshake = 22,
    /// application_data (23).
    ApplicationData = 23,
    /// heartbeat (24, RFC 6520).
    Heartbeat = 24,
}

impl ContentType {
    /// Interprets a wire byte; `None` for values not in the registry.
    pub const fn from_wire(b: u8) -> Option<Self> {
        match b {
            20 => Some(Self::ChangeCipherSpec),
            21 => Some(Self::Alert),
            22 => Some(Self::Handshake),
            23 => Some(Self::ApplicationData),
            24 => Some(Self::Heartbeat),
            _ => None,
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ChangeCipherSpec => "change_cipher_spec",
            Self::Alert => "alert",
            Self::Handshake => "handshake",
            Self::ApplicationData => "application_data",
            Self::Heartbeat => "heartbeat",
        })
    }
}

/// One record: its header fields and a fragment borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record<'a> {
    /// The record's content type.
    pub content_type: ContentType,
    /// `legacy_record_version`: 0x0301 in most first ClientHellos, whatever is offered.
    pub legacy_version: TlsVersion,
    /// The fragment (encrypted after the handshake, except for the header).
    pub fragment: &'a [u8],
}

/// Parses one record from the front of `input` and returns it with the rest.
///
/// Returns [`Error::Incomplete`] when `input` is a valid prefix of a record, and
/// [`Error::Malformed`] when it cannot be one: unknown content type, a major version other
/// than 3, or a length over [`MAX_FRAGMENT_LEN`].
///
/// ```
/// use helloscope_tls::{parse_record, ContentType, TlsVersion};
/// let bytes = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46, 0xff];
/// let (record, rest) = parse_record(&bytes)?;
/// assert_eq!(record.content_type, ContentType::Alert);
/// assert_eq!(record.legacy_version, TlsVersion::Tls12);
/// assert_eq!(record.fragment, &[0x02, 0x46]);
/// assert_eq!(rest, &[0xff]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[inline]
pub fn parse_record(input: &[u8]) -> Result<(Record<'_>, &[u8]), Error> {
    let header = parse_record_header(input)?;
    let end = RECORD_HEADER_LEN + header.length as usize;
    if input.len() < end {
        return Err(Error::Incomplete {
            needed: end - input.len(),
        });
    }
    Ok((
        Record {
            content_type: header.content_type,
            legacy_version: header.legacy_version,
            fragment: &input[RECORD_HEADER_LEN..end],
        },
        &input[end..],
    ))
}

/// A record header alone: what a stream reader needs to skip a record it does not care about
/// (certificates, encrypted data) without buffering its fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordHeader {
    /// The record's content type.
    pub content_type: ContentType,
    /// `legacy_record_version`.
    pub legacy_version: TlsVersion,
    /// Fragment length, at most [`MAX_FRAGMENT_LEN`].
    pub length: u16,
}

/// Parses the five-byte record header at the front of `input`, with the same checks as
/// [`parse_record`] but without needing the fragment.
///
/// ```
/// use helloscope_tls::{parse_record_header, ContentType};
/// let h = parse_record_header(&[0x17, 0x03, 0x03, 0x40, 0x00])?;
/// assert_eq!(h.content_type, ContentType::ApplicationData);
/// assert_eq!(h.length, 16384);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[inline]
pub fn parse_record_header(input: &[u8]) -> Result<RecordHeader, Error> {
    // Read by hand, not with nom like the hellos: it runs on every record of every flow, and
    // the same checks as nom streaming parsers (map_opt(be_u8), peek(verify(be_u8)), be_u16,
    // verify(be_u16)) cost 3.5% more of the whole pipeline (cachegrind, `examples/pipeline`
    // over 20,000 generated handshakes: 190,069,550 instructions by hand, 196,698,721 nom).
    let malformed = |field| Error::Malformed {
        structure: Structure::TlsPlaintext,
        field,
    };
    let content_type = match input.first() {
        Some(&t) => ContentType::from_wire(t).ok_or(malformed("type"))?,
        None => {
            return Err(Error::Incomplete {
                needed: RECORD_HEADER_LEN,
            })
        }
    };
    if let Some(&major) = input.get(1) {
        if major != 3 {
            return Err(malformed("legacy_record_version"));
        }
    }
    if input.len() < RECORD_HEADER_LEN {
        return Err(Error::Incomplete {
            needed: RECORD_HEADER_LEN - input.len(),
        });
    }
    let length = u16::from_be_bytes([input[3], input[4]]);
    if length as usize > MAX_FRAGMENT_LEN {
        return Err(malformed("length"));
    }
    Ok(RecordHeader {
        content_type,
        legacy_version: TlsVersion::from_wire(u16::from_be_bytes([input[1], input[2]])),
        length,
    })
}

/// Walks the records of a byte stream, stopping at the first incomplete or malformed one.
///
/// After the iterator ends, [`Records::remainder`] holds the unparsed bytes and
/// [`Records::stopped_by`] says why it stopped (`None` when the input ended on a record
/// boundary).
///
/// ```
/// use helloscope_tls::{Records, ContentType};
/// let stream = [0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00];
/// let mut records = Records::new(&stream);
/// assert_eq!(records.next().unwrap().content_type, ContentType::ChangeCipherSpec);
/// assert!(records.next().is_none());
/// assert_eq!(records.remainder().len(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    stopped_by: Option<Error>,
}

impl<'a> Records<'a> {
    /// Starts a walk at the beginning of `stream`.
    pub fn new(stream: &'a [u8]) -> Self {
        Records {
            rest: stream,
            stopped_by: None,
        }
    }

    /// Bytes not consumed yet.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// Why the walk stopped, if it stopped before the end of its input.
    pub fn stopped_by(&self) -> Option<Error> {
        self.stopped_by
    }

    /// Bytes consumed so far, relative to `total_len`, the length of the original stream.
    pub fn consumed(&self, total_len: usize) -> usize {
        total_len - self.rest.len()
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.rest.is_empty() || self.stopped_by.is_some() {
            return None;
        }
        match parse_record(self.rest) {
            Ok((r, rest)) => {
                self.rest = rest;
                Some(r)
            }
            Err(e) => {
                self.stopped_by = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_is_not_malformed() {
        assert_eq!(parse_record(&[]), Err(Error::Incomplete { needed: 5 }));
        assert_eq!(parse_record(&[0x16]), Err(Error::Incomplete { needed: 4 }));
        assert_eq!(
            parse_record(&[0x16, 3, 1, 0x40, 0x00]),
            Err(Error::Incomplete { needed: 0x4000 })
        );
    }

    #[test]
    fn malformed_headers() {
        let m = |field| {
            Err(Error::Malformed {
                structure: Structure::TlsPlaintext,
                field,
            })
        };
        assert_eq!(parse_record(b"GET / HTTP/1.1"), m("type"));
        assert_eq!(parse_record(&[0x16, 0x02]), m("legacy_record_version"));
        assert_eq!(parse_record(&[0x16, 3, 1, 0x48, 0x01]), m("length"));
        // Exactly the limit is allowed.
        let max = MAX_FRAGMENT_LEN as u16;
        let hdr = [0x17, 3, 3, (max >> 8) as u8, max as u8];
        assert_eq!(
            parse_record(&hdr),
            Err(Error::Incomplete {
                needed: MAX_FRAGMENT_LEN
            })
        );
    }

    #[test]
    fn walk_stops_on_garbage() {
        let stream = [0x15, 3, 3, 0, 2, 1, 0, 0x99, 0, 0];
        let mut it = Records::new(&stream);
        assert_eq!(it.next().map(|r| r.content_type), Some(ContentType::Alert));
        assert_eq!(it.next(), None);
        assert!(matches!(it.stopped_by(), Some(Error::Malformed { .. })));
        assert_eq!(it.consumed(stream.len()), 7);
    }
}
