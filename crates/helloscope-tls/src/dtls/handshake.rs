//! DTLS handshake messages (RFC 6347 §4.2.2, RFC 9147 §5.2): the twelve-byte header with
//! `message_seq`, `fragment_offset` and `fragment_length`, the reassembly of messages split
//! into fragments, retransmitted, or overlapping, and the HelloVerifyRequest (§4.2.1).

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u24, be_u8};
use nom::sequence::tuple;

use crate::error::{fail, finish, vec_u8, Error, PResult, Structure};
use crate::handshake::HandshakeType;
use crate::version::TlsVersion;

/// Size of a DTLS handshake header.
pub const DTLS_HANDSHAKE_HEADER_LEN: usize = 12;

/// hello_verify_request (3), DTLS only.
pub const HELLO_VERIFY_REQUEST: HandshakeType = HandshakeType(3);

/// One fragment of a handshake message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeFragment<'a> {
    /// `msg_type`.
    pub msg_type: HandshakeType,
    /// `length`: of the whole message body.
    pub length: u32,
    /// `message_seq`: 0 for the first message of each side, +1 per message; a retransmitted
    /// message keeps its number (the ClientHello after a HelloVerifyRequest has 1).
    pub message_seq: u16,
    /// `fragment_offset`.
    pub fragment_offset: u32,
    /// The fragment's bytes (`fragment_length` of them).
    pub fragment: &'a [u8],
}

impl HandshakeFragment<'_> {
    /// True when the fragment is the whole message.
    pub fn is_whole(&self) -> bool {
        self.fragment_offset == 0 && self.fragment.len() as u64 == u64::from(self.length)
    }
}

fn malformed(field: &'static str) -> Error {
    Error::Malformed {
        structure: Structure::DtlsHandshake,
        field,
    }
}

/// Parses one handshake fragment from the front of a handshake record's fragment, returning
/// it and the rest (a record may hold several).
///
/// ```
/// use helloscope_tls::dtls::parse_handshake_fragment;
/// use helloscope_tls::HandshakeType;
/// // The first 2 bytes of a 5-byte ClientHello body, message_seq 1.
/// let rec = [1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 0xfe, 0xfd];
/// let (f, rest) = parse_handshake_fragment(&rec)?;
/// assert_eq!((f.msg_type, f.length, f.message_seq), (HandshakeType::CLIENT_HELLO, 5, 1));
/// assert_eq!((f.fragment_offset, f.fragment), (0, &[0xfe, 0xfd][..]));
/// assert!(!f.is_whole() && rest.is_empty());
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_handshake_fragment(input: &[u8]) -> Result<(HandshakeFragment<'_>, &[u8]), Error> {
    let (rest, fragment) = finish(Structure::DtlsHandshake, handshake_fragment(input))?;
    Ok((fragment, rest))
}

/// The DTLS `Handshake` header (msg_type, length, message_seq, fragment_offset,
/// fragment_length) and the fragment it announces, which must lie within the message.
fn handshake_fragment(i: &[u8]) -> PResult<'_, (&[u8], HandshakeFragment<'_>)> {
    let (i, (msg_type, length, message_seq, fragment_offset, fragment_length)) =
        tuple((be_u8, be_u24, be_u16, be_u24, be_u24))(i)?;
    if u64::from(fragment_offset) + u64::from(fragment_length) > u64::from(length) {
        return fail("fragment_length");
    }
    let (i, fragment) = take(fragment_length)(i)?;
    Ok((
        i,
        (
            i,
            HandshakeFragment {
                msg_type: HandshakeType(msg_type),
                length,
                message_seq,
                fragment_offset,
                fragment,
            },
        ),
    ))
}

/// A HelloVerifyRequest (RFC 6347 §4.2.1): the server wants the ClientHello again with this
/// cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HelloVerifyRequest<'a> {
    /// `server_version`.
    pub server_version: TlsVersion,
    /// `cookie`.
    pub cookie: &'a [u8],
}

impl<'a> HelloVerifyRequest<'a> {
    /// Parses the body of a hello_verify_request message.
    ///
    /// ```
    /// use helloscope_tls::dtls::HelloVerifyRequest;
    /// let hvr = HelloVerifyRequest::parse(&[0xfe, 0xff, 2, 0xab, 0xcd])?;
    /// assert_eq!(hvr.server_version.to_string(), "DTLS 1.0");
    /// assert_eq!(hvr.cookie, [0xab, 0xcd]);
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        finish(Structure::HelloVerifyRequest, hello_verify_request(body))
    }
}

/// `struct { ProtocolVersion server_version; opaque cookie<0..2^8-1>; } HelloVerifyRequest;`
fn hello_verify_request(i: &[u8]) -> PResult<'_, HelloVerifyRequest<'_>> {
    let (i, (server_version, cookie)) = tuple((be_u16, vec_u8))(i)?;
    Ok((
        i,
        HelloVerifyRequest {
            server_version: TlsVersion::from_wire(server_version),
            cookie,
        },
    ))
}

/// A message being put together from its fragments.
#[derive(Clone, Debug)]
struct Partial {
    msg_type: HandshakeType,
    message_seq: u16,
    buf: Vec<u8>,
    /// Received ranges, sorted, disjoint, not touching.
    ranges: Vec<(usize, usize)>,
}

/// Most messages in progress at once, and most pieces one message may be in: handshakes
/// have a handful of messages, and a sender splits each into MTU-sized fragments.
const MAX_PARTIAL: usize = 4;
const MAX_RANGES: usize = 32;
/// Message numbers remembered as done, so that their retransmissions are not reassembled.
const MAX_DONE: usize = 16;

/// Reassembles one side's DTLS handshake messages from fragments that may arrive out of
/// order, repeat, or overlap, holding at most `max_message_len` bytes per message and a few
/// messages at once. Each message is handed out once, when whole: a whole one-fragment
/// message borrowed from the datagram, with no copy.
///
/// ```
/// use helloscope_tls::dtls::{parse_handshake_fragment, FragmentReassembler};
/// let mut r = FragmentReassembler::new(1 << 16);
/// // A 4-byte message in two fragments, the second first, then the first twice.
/// let second = [1, 0, 0, 4, 0, 0, 0, 0, 2, 0, 0, 2, 0xcc, 0xdd];
/// let first = [1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb];
/// assert!(r.push(parse_handshake_fragment(&second)?.0, |_| panic!()).is_ok());
/// let mut got = Vec::new();
/// r.push(parse_handshake_fragment(&first)?.0, |m| got.push(m.body.to_vec()))?;
/// r.push(parse_handshake_fragment(&first)?.0, |m| got.push(m.body.to_vec()))?;
/// assert_eq!(got, [vec![0xaa, 0xbb, 0xcc, 0xdd]]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FragmentReassembler {
    max_message_len: usize,
    partial: Vec<Partial>,
    done: Vec<(HandshakeType, u16)>,
}

/// A whole DTLS handshake message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DtlsMessage<'a> {
    /// `msg_type`.
    pub msg_type: HandshakeType,
    /// `message_seq`.
    pub message_seq: u16,
    /// The whole body.
    pub body: &'a [u8],
}

impl FragmentReassembler {
    /// A reassembler that refuses messages longer than `max_message_len`.
    pub fn new(max_message_len: usize) -> Self {
        FragmentReassembler {
            max_message_len,
            partial: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Bytes held for messages not yet whole.
    pub fn pending(&self) -> usize {
        self.partial.iter().map(|p| p.buf.capacity()).sum()
    }

    fn is_done(&self, t: HandshakeType, seq: u16) -> bool {
        self.done.contains(&(t, seq))
    }

    fn mark_done(&mut self, t: HandshakeType, seq: u16) {
        if self.done.len() == MAX_DONE {
            self.done.remove(0);
        }
        self.done.push((t, seq));
    }

    /// Takes one fragment; calls `on_message` if it completes a message not handed out
    /// before. An error for a message over the length limit or in too many pieces (that
    /// message is dropped; the others are kept).
    pub fn push(
        &mut self,
        f: HandshakeFragment<'_>,
        on_message: impl FnOnce(DtlsMessage<'_>),
    ) -> Result<(), Error> {
        if self.is_done(f.msg_type, f.message_seq) {
            return Ok(());
        }
        let length = f.length as usize;
        if length > self.max_message_len {
            return Err(malformed("length"));
        }
        if f.is_whole() {
            self.partial
                .retain(|p| (p.msg_type, p.message_seq) != (f.msg_type, f.message_seq));
            self.mark_done(f.msg_type, f.message_seq);
            on_message(DtlsMessage {
                msg_type: f.msg_type,
                message_seq: f.message_seq,
                body: f.fragment,
            });
            return Ok(());
        }
        let i = match self
            .partial
            .iter()
            .position(|p| (p.msg_type, p.message_seq) == (f.msg_type, f.message_seq))
        {
            // A fragment announcing another length for the same message is not believed.
            Some(i) if self.partial[i].buf.len() != length => {
                return Err(malformed("length"));
            }
            Some(i) => i,
            None => {
                if self.partial.len() == MAX_PARTIAL {
                    self.partial.remove(0);
                }
                self.partial.push(Partial {
                    msg_type: f.msg_type,
                    message_seq: f.message_seq,
                    buf: vec![0; length],
                    ranges: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let p = &mut self.partial[i];
        let start = f.fragment_offset as usize;
        let end = start + f.fragment.len();
        if start == end {
            return Ok(());
        }
        let first = p.ranges.partition_point(|r| r.1 < start);
        let last = p.ranges.partition_point(|r| r.0 <= end);
        if first == last && p.ranges.len() >= MAX_RANGES {
            self.partial.remove(i);
            return Err(malformed("too many fragments"));
        }
        // Bytes already held are kept: only the holes are filled.
        let mut at = start;
        for &(s, e) in &p.ranges[first..last] {
            if at < s {
                p.buf[at..s].copy_from_slice(&f.fragment[at - start..s - start]);
            }
            at = at.max(e);
        }
        if at < end {
            p.buf[at..end].copy_from_slice(&f.fragment[at - start..]);
        }
        let merged = if last > first {
            (p.ranges[first].0.min(start), p.ranges[last - 1].1.max(end))
        } else {
            (start, end)
        };
        p.ranges.splice(first..last, [merged]);
        if p.ranges[..] == [(0, length)] {
            let p = self.partial.remove(i);
            self.mark_done(p.msg_type, p.message_seq);
            on_message(DtlsMessage {
                msg_type: p.msg_type,
                message_seq: p.message_seq,
                body: &p.buf,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(seq: u16, len: u32, off: u32, data: &[u8]) -> Vec<u8> {
        let mut v = vec![1];
        v.extend(&len.to_be_bytes()[1..]);
        v.extend(seq.to_be_bytes());
        v.extend(&off.to_be_bytes()[1..]);
        v.extend(&(data.len() as u32).to_be_bytes()[1..]);
        v.extend(data);
        v
    }

    fn run(r: &mut FragmentReassembler, frags: &[Vec<u8>]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        for f in frags {
            let (f, _) = parse_handshake_fragment(f).unwrap();
            let _ = r.push(f, |m| out.push((m.message_seq, m.body.to_vec())));
        }
        out
    }

    #[test]
    fn fragments_in_every_order_with_overlaps_and_repeats() {
        let body: Vec<u8> = (0..100).collect();
        let pieces = [(0u32, 30u32), (20, 60), (60, 100), (10, 40)];
        for order in [[0, 1, 2, 3], [2, 1, 0, 3], [3, 2, 0, 1], [1, 3, 2, 0]] {
            let mut r = FragmentReassembler::new(1000);
            let frags: Vec<Vec<u8>> = order
                .iter()
                .map(|&i| {
                    let (a, b) = pieces[i];
                    frag(0, 100, a, &body[a as usize..b as usize])
                })
                .collect();
            let mut all = frags.clone();
            all.extend(frags); // a retransmission of the whole flight
            assert_eq!(run(&mut r, &all), [(0, body.clone())], "{order:?}");
            assert_eq!(r.pending(), 0);
        }
    }

    #[test]
    fn second_client_hello_after_hello_verify_request_is_its_own_message() {
        let mut r = FragmentReassembler::new(1000);
        let got = run(
            &mut r,
            &[
                frag(0, 3, 0, b"abc"),
                frag(0, 3, 0, b"abc"),
                frag(1, 4, 0, b"abcd"),
            ],
        );
        assert_eq!(got, [(0, b"abc".to_vec()), (1, b"abcd".to_vec())]);
    }

    #[test]
    fn bounds() {
        let mut r = FragmentReassembler::new(100);
        let big = frag(0, 101, 0, b"x");
        let (f, _) = parse_handshake_fragment(&big).unwrap();
        assert!(r.push(f, |_| {}).is_err());
        // Many messages in progress: only a few are kept.
        for seq in 0..100 {
            let one = frag(seq, 50, 0, b"x");
            let (f, _) = parse_handshake_fragment(&one).unwrap();
            r.push(f, |_| {}).unwrap();
        }
        assert_eq!(r.partial.len(), MAX_PARTIAL);
        // One message in too many one-byte pieces with gaps.
        let mut r = FragmentReassembler::new(1000);
        let frags: Vec<Vec<u8>> = (0..40).map(|i| frag(0, 100, 2 * i, b"x")).collect();
        assert!(run(&mut r, &frags).is_empty());
        assert!(r.pending() <= 100);
        // A fragment past the announced length is malformed.
        assert!(parse_handshake_fragment(&frag(0, 5, 4, b"xy")).is_err());
    }
}
