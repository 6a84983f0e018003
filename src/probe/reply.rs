//! Reading a server's first flight far enough to know its answer to one ClientHello: its
//! ServerHello (or HelloRetryRequest), or the alert it sent instead.
//!
//! This file depends on `helloscope-tls` and `std` alone, so that the fuzz target `reply`
//! includes it as it is.

use helloscope_tls::{
    parse_record, Alert, CipherSuite, ContentType, DowngradeSentinel, Error, HandshakeReassembler,
    HandshakeType, ServerHello, TlsVersion,
};

/// Most bytes of a reply the probe reads: a ServerHello comes first and is small; what follows
/// (certificates) is not read at all.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A ServerHello, reduced to what the probe reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHelloSummary {
    /// The version chosen (supported_versions, else legacy_version).
    pub version: TlsVersion,
    /// The cipher suite chosen.
    pub cipher_suite: CipherSuite,
    /// A HelloRetryRequest rather than a ServerHello.
    pub hello_retry_request: bool,
    /// The downgrade sentinel in its random (RFC 8446 §4.1.3).
    pub downgrade_sentinel: Option<DowngradeSentinel>,
}

/// What the server answered, as far as the reader could tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A ServerHello or HelloRetryRequest.
    ServerHello(ServerHelloSummary),
    /// An alert before any ServerHello.
    Alert(Alert),
    /// Bytes that are not a TLS server's first flight; the reason.
    Malformed(&'static str),
}

/// Reads a reply incrementally: [`ReplyReader::feed`] takes everything received so far and
/// resumes after the records it has already read, so a server that sends one byte at a time
/// costs one record-header check per byte, not a re-parse of the whole reply.
#[derive(Debug)]
pub struct ReplyReader {
    consumed: usize,
    handshake: HandshakeReassembler,
}

impl Default for ReplyReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyReader {
    /// A reader at the start of a reply.
    pub fn new() -> Self {
        ReplyReader {
            consumed: 0,
            handshake: HandshakeReassembler::new(MAX_REPLY_BYTES),
        }
    }

    /// `received`: every byte of the reply so far (a longer prefix of the same stream on
    /// each call). `None` while the answer is not complete yet.
    pub fn feed(&mut self, received: &[u8]) -> Option<Reply> {
        loop {
            let rest = received.get(self.consumed..)?;
            let (record, _) = match parse_record(rest) {
                Ok(r) => r,
                Err(Error::Incomplete { .. }) => return None,
                Err(_) => return Some(Reply::Malformed("not a TLS record")),
            };
            self.consumed += helloscope_tls::RECORD_HEADER_LEN + record.fragment.len();
            match record.content_type {
                ContentType::Alert => {
                    return Some(match Alert::parse(record.fragment) {
                        Ok(a) => Reply::Alert(a),
                        Err(_) => Reply::Malformed("alert record not two bytes"),
                    })
                }
                ContentType::Handshake => {
                    if let Some(reply) = self.handshake_fragment(record.fragment) {
                        return Some(reply);
                    }
                }
                _ => return Some(Reply::Malformed("a record other than handshake or alert")),
            }
        }
    }

    /// The first handshake message decides: a ServerHello is the answer, anything else is
    /// out of order.
    fn handshake_fragment(&mut self, fragment: &[u8]) -> Option<Reply> {
        let mut first: Option<Reply> = None;
        let pushed = self.handshake.push(fragment, |m| {
            if first.is_some() {
                return;
            }
            first = Some(if m.msg_type != HandshakeType::SERVER_HELLO {
                Reply::Malformed("first handshake message is not a ServerHello")
            } else {
                match ServerHello::parse(m.body) {
                    Ok(sh) => Reply::ServerHello(ServerHelloSummary {
                        version: sh.selected_version(),
                        cipher_suite: sh.cipher_suite,
                        hello_retry_request: sh.is_hello_retry_request(),
                        downgrade_sentinel: sh.downgrade_sentinel(),
                    }),
                    Err(_) => Reply::Malformed("ServerHello does not parse"),
                }
            });
        });
        match (first, pushed) {
            (Some(r), _) => Some(r),
            (None, Err(_)) => Some(Reply::Malformed("handshake message too long")),
            (None, Ok(())) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_reply(received: &[u8]) -> Option<Reply> {
        ReplyReader::new().feed(received)
    }

    /// A ServerHello record as RFC 8446 §4.1.3 lays it out.
    fn server_hello(version: u16, cipher: u16, random: [u8; 32], sv: Option<u16>) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend(random);
        body.push(0);
        body.extend(cipher.to_be_bytes());
        body.push(0);
        if let Some(v) = sv {
            body.extend([0, 6, 0x00, 0x2b, 0, 2]);
            body.extend(v.to_be_bytes());
        }
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![22, 3, 3, 0, hs.len() as u8];
        rec.extend(hs);
        rec
    }

    #[test]
    fn tls12_server_hello_with_sentinel_byte_by_byte() {
        let mut random = [9u8; 32];
        random[24..].copy_from_slice(b"DOWNGRD\x01");
        let rec = server_hello(0x0303, 0xc02f, random, None);
        let mut r = ReplyReader::new();
        for n in 0..rec.len() {
            assert_eq!(r.feed(&rec[..n]), None, "{n}");
        }
        assert_eq!(
            r.feed(&rec),
            Some(Reply::ServerHello(ServerHelloSummary {
                version: TlsVersion::Tls12,
                cipher_suite: CipherSuite(0xc02f),
                hello_retry_request: false,
                downgrade_sentinel: Some(DowngradeSentinel::Tls12),
            }))
        );
    }

    #[test]
    fn hello_retry_request_and_tls13() {
        let hrr = server_hello(
            0x0303,
            0x1301,
            helloscope_tls::HELLO_RETRY_REQUEST_RANDOM,
            Some(0x0304),
        );
        let Some(Reply::ServerHello(s)) = read_reply(&hrr) else {
            panic!()
        };
        assert!(s.hello_retry_request);
        assert_eq!(s.version, TlsVersion::Tls13);
    }

    #[test]
    fn alert_and_garbage() {
        assert_eq!(
            read_reply(&[21, 3, 1, 0, 2, 2, 70]),
            Some(Reply::Alert(Alert::parse(&[2, 70]).unwrap()))
        );
        assert!(matches!(
            read_reply(b"HTTP/1.1 400 Bad Request\r\n"),
            Some(Reply::Malformed(_))
        ));
        // A certificate first is out of order.
        assert!(matches!(
            read_reply(&[22, 3, 3, 0, 4, 11, 0, 0, 0]),
            Some(Reply::Malformed(_))
        ));
        // A ServerHello split over two records.
        let rec = server_hello(0x0302, 0xc013, [1; 32], None);
        let (head, tail) = rec[5..].split_at(10);
        let mut split = vec![22, 3, 3, 0, head.len() as u8];
        split.extend(head);
        split.extend([22, 3, 3, 0, tail.len() as u8]);
        split.extend(tail);
        assert!(matches!(
            read_reply(&split),
            Some(Reply::ServerHello(ServerHelloSummary {
                version: TlsVersion::Tls11,
                ..
            }))
        ));
    }
}
