//! The frames an Initial packet may carry (RFC 9000 §12.4, §19): PADDING, PING, ACK, CRYPTO
//! and CONNECTION_CLOSE. Any other type ends the walk: its length cannot be known without
//! reading it, and it is not allowed in an Initial packet anyway.

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

fn varint_len(i: &[u8]) -> Result<(usize, &[u8]), Error> {
    let (v, i) = read_varint(i)?;
    Ok((usize::try_from(v).map_err(|_| malformed("length"))?, i))
}

fn take(i: &[u8], n: usize) -> Result<(&[u8], &[u8]), Error> {
    if i.len() < n {
        return Err(malformed("truncated"));
    }
    Ok(i.split_at(n))
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
        let (ty, i) = read_varint(self.rest)?;
        let (frame, rest) = match ty {
            0x00 => {
                let zeros = i.iter().take_while(|&&b| b == 0).count();
                (Frame::Padding(zeros + 1), &i[zeros..])
            }
            0x01 => (Frame::Ping, i),
            0x02 | 0x03 => {
                // Largest Acknowledged, ACK Delay, ACK Range Count, First ACK Range, then
                // (Gap, ACK Range Length) per range, then three ECN counts for 0x03.
                let (_, i) = read_varint(i)?;
                let (_, i) = read_varint(i)?;
                let (ranges, i) = read_varint(i)?;
                let (_, mut i) = read_varint(i)?;
                // Each range is at least two bytes: a count beyond that is a lie.
                if ranges > i.len() as u64 / 2 {
                    return Err(malformed("ACK Range Count"));
                }
                for _ in 0..ranges * 2 {
                    i = read_varint(i)?.1;
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        i = read_varint(i)?.1;
                    }
                }
                (Frame::Ack, i)
            }
            0x06 => {
                let (offset, i) = read_varint(i)?;
                let (len, i) = varint_len(i)?;
                let (data, i) = take(i, len)?;
                (Frame::Crypto { offset, data }, i)
            }
            0x1c | 0x1d => {
                let (error_code, i) = read_varint(i)?;
                let (frame_type, i) = if ty == 0x1c {
                    let (t, i) = read_varint(i)?;
                    (Some(t), i)
                } else {
                    (None, i)
                };
                let (len, i) = varint_len(i)?;
                let (reason, i) = take(i, len)?;
                (
                    Frame::ConnectionClose {
                        application: ty == 0x1d,
                        error_code,
                        frame_type,
                        reason,
                    },
                    i,
                )
            }
            other => (Frame::Other(other), &[][..]),
        };
        self.rest = rest;
        Ok(frame)
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
