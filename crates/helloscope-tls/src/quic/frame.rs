//! The frames an Initial packet may carry (RFC 9000 §12.4, §19): PADDING, PING, ACK, CRYPTO
//! and CONNECTION_CLOSE. Any other type ends the walk: its length cannot be known without
//! reading it, and it is not allowed in an Initial packet anyway.

use nom::bytes::complete::{take, take_while};
use nom::combinator::cond;
use nom::error::{ErrorKind, ParseError};
use nom::sequence::tuple;
use nom::IResult;

use super::read_varint;
use crate::error::{Error, Structure};

/// One frame of a decrypted Initial payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// A run of PADDING frames (type 0x00), counted in bytes.
    Padding(usize),
    /// PING (0x01).
    Ping,
    /// ACK or ACK with ECN counts (0x02, 0x03); its ranges are skipped.
    Ack,
    /// CRYPTO (0x06): handshake bytes at an offset of the crypto stream.
    Crypto {
        /// Where `data` goes in the stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE (0x1c for a transport error, 0x1d for an application's).
    ConnectionClose {
        /// True for 0x1d.
        application: bool,
        /// The error code (RFC 9000 §20; 0x0100–0x01ff carry a TLS alert in the low byte).
        error_code: u64,
        /// The type of the frame that caused it (0x1c only).
        frame_type: Option<u64>,
        /// The reason phrase.
        reason: &'a [u8],
    },
    /// A frame of another type: the walk stops there.
    Other(u64),
}

impl Frame<'_> {
    /// For a CONNECTION_CLOSE whose error code is a TLS alert (CRYPTO_ERROR, RFC 9001 §4.8),
    /// that alert's description.
    pub fn tls_alert(&self) -> Option<u8> {
        match *self {
            Frame::ConnectionClose {
                application: false,
                error_code: code @ 0x0100..=0x01ff,
                ..
            } => Some((code & 0xff) as u8),
            _ => None,
        }
    }
}

fn malformed(field: &'static str) -> Error {
    Error::Malformed {
        structure: Structure::QuicFrame,
        field,
    }
}

/// The nom error of this module: the crate's error itself, because a frame and the
/// variable-length integers in it fail as different structures.
#[derive(Debug)]
struct FrameError(Error);

impl<I> ParseError<I> for FrameError {
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        FrameError(malformed("truncated"))
    }
    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type FResult<'a, T> = IResult<&'a [u8], T, FrameError>;

fn frame_fail<T>(field: &'static str) -> FResult<'static, T> {
    Err(nom::Err::Error(FrameError(malformed(field))))
}

/// A variable-length integer, read by the hand-written [`read_varint`] that the packet
/// headers share.
fn varint(i: &[u8]) -> FResult<'_, u64> {
    match read_varint(i) {
        Ok((v, rest)) => Ok((rest, v)),
        Err(e) => Err(nom::Err::Error(FrameError(e))),
    }
}

/// A variable-length integer giving a length in bytes.
fn length(i: &[u8]) -> FResult<'_, usize> {
    let (i, v) = varint(i)?;
    match usize::try_from(v) {
        Ok(n) => Ok((i, n)),
        Err(_) => frame_fail("length"),
    }
}

/// `ACK Frame` (RFC 9000 §19.3): Largest Acknowledged, ACK Delay, ACK Range Count, First ACK
/// Range, then (Gap, ACK Range Length) per range, then three ECN Counts for type 0x03.
fn ack_frame(ty: u64, i: &[u8]) -> FResult<'_, Frame<'_>> {
    let (i, (_largest_acknowledged, _ack_delay, ack_range_count, _first_ack_range)) =
        tuple((varint, varint, varint, varint))(i)?;
    // Each range is at least two bytes: a count beyond that is a lie.
    if ack_range_count > i.len() as u64 / 2 {
        return frame_fail("ACK Range Count");
    }
    let mut i = i;
    for _ in 0..ack_range_count * 2 {
        i = varint(i)?.0;
    }
    if ty == 0x03 {
        i = tuple((varint, varint, varint))(i)?.0;
    }
    Ok((i, Frame::Ack))
}

/// `CRYPTO Frame` (RFC 9000 §19.6): Offset, Length, Crypto Data.
fn crypto_frame(i: &[u8]) -> FResult<'_, Frame<'_>> {
    let (i, (offset, len)) = tuple((varint, length))(i)?;
    let (i, data) = take(len)(i)?;
    Ok((i, Frame::Crypto { offset, data }))
}

/// `CONNECTION_CLOSE Frame` (RFC 9000 §19.19): Error Code, Frame Type (0x1c only), Reason
/// Phrase Length, Reason Phrase.
fn connection_close_frame(ty: u64, i: &[u8]) -> FResult<'_, Frame<'_>> {
    let application = ty == 0x1d;
    let (i, error_code) = varint(i)?;
    let (i, frame_type) = cond(!application, varint)(i)?;
    let (i, len) = length(i)?;
    let (i, reason) = take(len)(i)?;
    Ok((
        i,
        Frame::ConnectionClose {
            application,
            error_code,
            frame_type,
            reason,
        },
    ))
}

/// One frame: its type, then the body that type has.
fn frame(i: &[u8]) -> FResult<'_, Frame<'_>> {
    let (i, ty) = varint(i)?;
    match ty {
        0x00 => {
            let (i, zeros) = take_while(|b| b == 0)(i)?;
            Ok((i, Frame::Padding(zeros.len() + 1)))
        }
        0x01 => Ok((i, Frame::Ping)),
        0x02 | 0x03 => ack_frame(ty, i),
        0x06 => crypto_frame(i),
        0x1c | 0x1d => connection_close_frame(ty, i),
        other => Ok((&[][..], Frame::Other(other))),
    }
}

/// The frames of a decrypted Initial (or Handshake) payload, in order.
///
/// Iteration yields `Err` once for a frame that does not parse, and stops after it or after
/// [`Frame::Other`].
///
/// ```
/// use helloscope_tls::quic::{Frame, Frames};
/// // PING, a CRYPTO frame at offset 5 with two bytes, then padding.
/// let payload = [0x01, 0x06, 0x05, 0x02, 0xaa, 0xbb, 0, 0, 0];
/// let frames: Vec<Frame<'_>> = Frames::new(&payload).collect::<Result<_, _>>()?;
/// assert_eq!(frames, [
///     Frame::Ping,
///     Frame::Crypto { offset: 5, data: &[0xaa, 0xbb] },
///     Frame::Padding(3),
/// ]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Frames<'a> {
    /// The frames of `payload`.
    pub fn new(payload: &'a [u8]) -> Self {
        Frames { rest: payload }
    }

    fn frame(&mut self) -> Result<Frame<'a>, Error> {
        match frame(self.rest) {
            Ok((rest, f)) => {
                self.rest = rest;
                Ok(f)
            }
            Err(nom::Err::Error(FrameError(e)) | nom::Err::Failure(FrameError(e))) => Err(e),
            Err(nom::Err::Incomplete(_)) => Err(malformed("truncated")),
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.frame();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}
