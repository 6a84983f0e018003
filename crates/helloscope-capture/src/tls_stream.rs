//! The TLS view of one direction of a connection: record headers, the handshake messages the
//! flow needs, cleartext alerts, ChangeCipherSpec and the first application data.
//!
//! Record bodies that do not matter (certificates, encrypted data) are skipped by counting,
//! not buffered, so a 16 KiB record costs nothing but its header.

use helloscope_tls::{
    Alert, ContentType, Error, HandshakeMessage, HandshakeReassembler, HandshakeType, RecordHeader,
    Sslv2ClientHello, HELLO_RETRY_REQUEST_RANDOM, RECORD_HEADER_LEN,
};

/// What a direction's bytes said, in order.
pub(crate) enum TlsEvent<'a> {
    Handshake(HandshakeMessage<'a>),
    Sslv2Hello(Sslv2ClientHello<'a>),
    ChangeCipherSpec,
    ApplicationData,
    Alert(Alert),
    /// An alert record that is not two bytes long: encrypted.
    EncryptedAlert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing seen yet: decide whether this is TLS.
    Start,
    /// Buffering an SSLv2-format hello.
    Sslv2,
    /// Inside the record stream.
    Records,
    /// The bytes are not TLS (or stopped being parseable): ignore the rest.
    Broken,
}

/// Per-direction TLS reader.
#[derive(Debug)]
pub(crate) struct TlsStream {
    state: State,
    header: [u8; RECORD_HEADER_LEN],
    header_len: usize,
    current: Option<RecordHeader>,
    remaining: usize,
    alert: [u8; 2],
    alert_len: usize,
    alert_overlong: bool,
    handshake: HandshakeReassembler,
    /// Whether handshake bodies are still wanted (false once the needed hellos were read).
    pub want_handshake: bool,
    /// A HelloRetryRequest was read: the real ServerHello is still to come.
    awaiting_second_server_hello: bool,
    sslv2: Vec<u8>,
    /// Why the stream stopped being readable, if it did.
    pub error: Option<Error>,
}

/// What the first bytes of a client's stream say about it being TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// Every field checked says a ClientHello starts here.
    ClientHello,
    /// So far consistent with one; the fields still to check have not arrived.
    NeedMore,
    /// Some field rules it out.
    NotTls,
}

/// Longest record a TLS peer may send (RFC 8446 §5.2: 2^14 plus expansion).
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Smallest ClientHello body (RFC 5246 §7.4.1.2): version, random, an empty session id, one
/// cipher suite, one compression method.
const MIN_CLIENT_HELLO_LEN: usize = 2 + 32 + 1 + 2 + 2 + 1 + 1;

/// Whether the stream `b` starts with a ClientHello, checked field by field: each record
/// header (handshake type 22, version 3.0 to 3.4, a length a TLS peer may send), then the
/// handshake header they carry (ClientHello, a length a ClientHello can have), or an
/// SSLv2-format CLIENT-HELLO header. A prefix of a few bytes is not evidence: a telnet
/// client's `ff fb 01`, or random bytes, start like an SSLv2 header.
pub(crate) fn client_hello_evidence(b: &[u8]) -> Evidence {
    // The usual case, a record header and the whole handshake header in the first bytes.
    if let [0x16, 3, minor, l0, l1, t, h0, h1, h2, ..] = *b {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if minor <= 4 && (4..=MAX_RECORD_LEN).contains(&len) {
            let hs_len = u32::from_be_bytes([0, h0, h1, h2]) as usize;
            return if t == 1 && hs_len >= MIN_CLIENT_HELLO_LEN {
                Evidence::ClientHello
            } else {
                Evidence::NotTls
            };
        }
    }
    match b.first() {
        None => Evidence::NeedMore,
        Some(0x16) => records_evidence(b),
        Some(h) if h & 0x80 != 0 => sslv2_evidence(b),
        Some(_) => Evidence::NotTls,
    }
}

fn records_evidence(mut b: &[u8]) -> Evidence {
    // The four bytes of the handshake header may come one per record.
    let mut hs = [0u8; 4];
    let mut got = 0;
    loop {
        let Some(header) = b.get(..RECORD_HEADER_LEN) else {
            return prefix_evidence(b);
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if !matches!(header[..3], [0x16, 3, 0..=4]) || len == 0 || len > MAX_RECORD_LEN {
            return Evidence::NotTls;
        }
        let body = &b[RECORD_HEADER_LEN..];
        let want = len.min(4 - got);
        let have = want.min(body.len());
        hs[got..got + have].copy_from_slice(&body[..have]);
        got += have;
        if got > 0 && hs[0] != 1 {
            return Evidence::NotTls;
        }
        if got == 4 {
            break;
        }
        if have < want {
            return Evidence::NeedMore;
        }
        // The whole record was part of the handshake header (want == len <= body.len()).
        b = &body[len..];
    }
    let hs_len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
    if hs_len < MIN_CLIENT_HELLO_LEN {
        return Evidence::NotTls;
    }
    Evidence::ClientHello
}

/// A record header cut short: NeedMore while its fields so far are a TLS handshake record's.
fn prefix_evidence(h: &[u8]) -> Evidence {
    let ok = match h {
        [] | [0x16] | [0x16, 3] => true,
        [0x16, 3, minor, ..] => *minor <= 4,
        _ => false,
    };
    if ok {
        Evidence::NeedMore
    } else {
        Evidence::NotTls
    }
}

/// An SSLv2 CLIENT-HELLO header (draft-hickman-netscape-ssl-00): two-byte record length
/// (high bit set), message type 1, version 0.2 or 3.0–3.4, then the lengths of the cipher
/// specs (a multiple of three, not zero), the session id (0 or 16) and the challenge (16 to
/// 32), which must add up to the record length.
fn sslv2_evidence(b: &[u8]) -> Evidence {
    const HEADER: usize = 11;
    let field = |i: usize| b.get(i).copied();
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]) as usize;
    if field(2).is_some_and(|t| t != 1) {
        return Evidence::NotTls;
    }
    match (field(3), field(4)) {
        (Some(0), Some(2)) | (Some(3), Some(0..=4)) | (Some(0 | 3), None) | (None, _) => {}
        _ => return Evidence::NotTls,
    }
    if b.len() < HEADER {
        return Evidence::NeedMore;
    }
    let len = u16_at(0) & 0x7fff;
    let (specs, session, challenge) = (u16_at(5), u16_at(7), u16_at(9));
    let consistent = specs > 0
        && specs % 3 == 0
        && (session == 0 || session == 16)
        && (16..=32).contains(&challenge)
        && len == HEADER - 2 + specs + session + challenge;
    if consistent {
        Evidence::ClientHello
    } else {
        Evidence::NotTls
    }
}

/// A stream that starts with a ServerHello record (a capture that missed the ClientHello).
pub(crate) fn looks_like_server_hello(b: &[u8]) -> bool {
    matches!(b, [0x16, 3, minor, _, _, 2, ..] if *minor <= 4)
}

impl TlsStream {
    pub(crate) fn new(max_buffer: usize) -> Self {
        TlsStream {
            state: State::Start,
            header: [0; RECORD_HEADER_LEN],
            header_len: 0,
            current: None,
            remaining: 0,
            alert: [0; 2],
            alert_len: 0,
            alert_overlong: false,
            handshake: HandshakeReassembler::new(max_buffer),
            want_handshake: true,
            awaiting_second_server_hello: false,
            sslv2: Vec::new(),
            error: None,
        }
    }

    /// Bytes held: a handshake message being reassembled, or an SSLv2 hello.
    pub(crate) fn buffered(&self) -> usize {
        self.handshake.pending() + self.sslv2.len()
    }

    /// Drops whatever is held and stops reading handshake messages (memory pressure).
    pub(crate) fn shed(&mut self) {
        self.stop_handshake();
        self.sslv2 = Vec::new();
    }

    /// The body of a ClientHello whose end never came, as far as it came.
    pub(crate) fn partial_client_hello(&self) -> Option<&[u8]> {
        match self.handshake.partial_message()? {
            (HandshakeType::CLIENT_HELLO, body) => Some(body),
            _ => None,
        }
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.state == State::Broken
    }

    /// Stops buffering handshake data for good.
    pub(crate) fn stop_handshake(&mut self) {
        self.want_handshake = false;
        self.handshake = HandshakeReassembler::new(0);
    }

    /// Feeds the next in-order bytes of the stream.
    pub(crate) fn feed(&mut self, mut data: &[u8], sink: &mut impl FnMut(TlsEvent<'_>)) {
        while !data.is_empty() {
            match self.state {
                State::Broken => return,
                State::Start => {
                    // No TLS record starts with the high bit set (content types are 20–24),
                    // so such a stream is an SSLv2-format hello or nothing: its parser says
                    // which, however few bytes this first segment holds.
                    if data[0] & 0x80 != 0 {
                        self.state = State::Sslv2;
                    } else {
                        self.state = State::Records;
                    }
                }
                State::Sslv2 => {
                    let need = if self.sslv2.len() + data.len() >= 2 {
                        let mut h = [0u8; 2];
                        for (i, b) in h.iter_mut().enumerate() {
                            *b = *self
                                .sslv2
                                .get(i)
                                .unwrap_or_else(|| &data[i - self.sslv2.len()]);
                        }
                        2 + (u16::from_be_bytes(h) & 0x7fff) as usize
                    } else {
                        2
                    };
                    let take = need.saturating_sub(self.sslv2.len()).min(data.len());
                    self.sslv2.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    // Once the record is whole; a zero-length record (`need == 2`) too, which
                    // the parser refuses: waiting for more of it would wait forever.
                    if self.sslv2.len() >= need {
                        match Sslv2ClientHello::parse(&self.sslv2) {
                            Ok((h, _)) => sink(TlsEvent::Sslv2Hello(h)),
                            Err(e) => {
                                self.fail(e);
                                return;
                            }
                        }
                        self.sslv2 = Vec::new();
                        self.state = State::Records;
                    }
                }
                State::Records => data = self.feed_records(data, sink),
            }
        }
    }

    fn fail(&mut self, e: Error) {
        self.error = Some(e);
        self.state = State::Broken;
        self.handshake = HandshakeReassembler::new(0);
        self.sslv2 = Vec::new();
    }

    fn feed_records<'d>(
        &mut self,
        mut data: &'d [u8],
        sink: &mut impl FnMut(TlsEvent<'_>),
    ) -> &'d [u8] {
        // Read a header.
        let Some(h) = self.current else {
            let parsed = if self.header_len == 0 && data.len() >= RECORD_HEADER_LEN {
                // The usual case, a whole header in this segment: read it where it lies.
                let (header, rest) = data.split_at(RECORD_HEADER_LEN);
                data = rest;
                helloscope_tls::parse_record_header(header)
            } else {
                let take = (RECORD_HEADER_LEN - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                helloscope_tls::parse_record_header(&self.header[..self.header_len])
            };
            match parsed {
                Ok(h) => {
                    self.current = Some(h);
                    self.remaining = h.length as usize;
                    self.header_len = 0;
                    self.alert_len = 0;
                    self.alert_overlong = false;
                    match h.content_type {
                        ContentType::ChangeCipherSpec => {
                            // Everything after it is encrypted, handshake records included,
                            // except the ServerHello that answers a HelloRetryRequest (TLS
                            // 1.3 middlebox compatibility puts a CCS between the two).
                            if self.want_handshake && !self.awaiting_second_server_hello {
                                self.stop_handshake();
                            }
                            sink(TlsEvent::ChangeCipherSpec)
                        }
                        ContentType::ApplicationData => sink(TlsEvent::ApplicationData),
                        _ => {}
                    }
                    if self.remaining == 0 {
                        self.end_record(h, sink);
                    }
                }
                Err(Error::Incomplete { .. }) => {}
                Err(e) => self.fail(e),
            }
            return data;
        };
        let take = self.remaining.min(data.len());
        let chunk = &data[..take];
        self.remaining -= take;
        match h.content_type {
            ContentType::Handshake if self.want_handshake => {
                let awaiting = &mut self.awaiting_second_server_hello;
                let pushed = self.handshake.push(chunk, |m| {
                    if m.msg_type == HandshakeType::SERVER_HELLO {
                        *awaiting = m.body.get(2..34) == Some(&HELLO_RETRY_REQUEST_RANDOM[..]);
                    }
                    sink(TlsEvent::Handshake(m))
                });
                if let Err(e) = pushed {
                    // Over the limit: give up on handshake content, keep walking records.
                    self.error = Some(e);
                    self.stop_handshake();
                }
            }
            ContentType::Alert => {
                for &b in chunk {
                    if self.alert_len < 2 {
                        self.alert[self.alert_len] = b;
                        self.alert_len += 1;
                    } else {
                        self.alert_overlong = true;
                    }
                }
            }
            _ => {}
        }
        if self.remaining == 0 {
            self.end_record(h, sink);
        }
        &data[take..]
    }

    fn end_record(&mut self, h: RecordHeader, sink: &mut impl FnMut(TlsEvent<'_>)) {
        self.current = None;
        if h.content_type == ContentType::Alert {
            if self.alert_len == 2 && !self.alert_overlong {
                if let Ok(a) = Alert::parse(&self.alert) {
                    sink(TlsEvent::Alert(a));
                }
            } else {
                sink(TlsEvent::EncryptedAlert);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events of `segments` fed in order, as names.
    fn events(stream: &mut TlsStream, segments: &[&[u8]]) -> Vec<&'static str> {
        let mut seen = Vec::new();
        for s in segments {
            stream.feed(s, &mut |ev| {
                seen.push(match ev {
                    TlsEvent::Handshake(_) => "handshake",
                    TlsEvent::Sslv2Hello(_) => "sslv2 hello",
                    TlsEvent::ChangeCipherSpec => "ccs",
                    TlsEvent::ApplicationData => "data",
                    TlsEvent::Alert(_) => "alert",
                    TlsEvent::EncryptedAlert => "encrypted alert",
                })
            });
        }
        seen
    }

    /// Found by the `pipeline` fuzz target: an SSLv2 record header of length 0 before what
    /// looks like a CLIENT-HELLO kept the reader waiting for a body it had already taken.
    #[test]
    fn zero_length_sslv2_record_breaks_the_stream_and_returns() {
        for segments in [
            &[&[0x80u8, 0x00, 0x01, 0x03, 0x01, 0x00][..]][..],
            &[&[0x80], &[0x00, 0x01, 0x03], &[0x01, 0x00, 0x00]],
        ] {
            let mut s = TlsStream::new(1 << 16);
            assert!(events(&mut s, segments).is_empty());
            assert!(s.is_broken());
            assert!(s.error.is_some());
        }
    }

    #[test]
    fn sslv2_hello_split_anywhere_is_read_once() {
        // Record header (length 34), CLIENT-HELLO, version 3.1, 3 cipher specs, no session id,
        // a 16-byte challenge.
        let mut hello = vec![
            0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
        ];
        hello.extend([0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x00, 0x00, 0x0a]);
        hello.extend([0x5a; 16]);
        for cut in 1..hello.len() {
            let mut s = TlsStream::new(1 << 16);
            let seen = events(&mut s, &[&hello[..cut], &hello[cut..]]);
            assert_eq!(seen, ["sslv2 hello"], "cut at {cut}");
            assert!(!s.is_broken(), "cut at {cut}");
        }
    }

    /// Field by field: the whole header at once, the same header one byte short at every
    /// length, and the header spread over one-byte records, as the streams show it.
    #[test]
    fn client_hello_evidence_checks_every_field() {
        let hello = [
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        assert_eq!(client_hello_evidence(&hello), Evidence::ClientHello);
        for n in 0..9 {
            assert_eq!(
                client_hello_evidence(&hello[..n]),
                Evidence::NeedMore,
                "{n}"
            );
        }
        let mut tiny = Vec::new();
        for b in &hello[5..9] {
            tiny.extend([0x16, 0x03, 0x01, 0x00, 0x01, *b]);
        }
        assert_eq!(client_hello_evidence(&tiny), Evidence::ClientHello);
        for n in 0..tiny.len() {
            assert_eq!(client_hello_evidence(&tiny[..n]), Evidence::NeedMore, "{n}");
        }
        for (at, bad) in [
            (0, 0x17),
            (1, 0x02),
            (2, 0x05),
            (3, 0x49),
            (5, 0x02),
            (7, 0x00),
        ] {
            let mut h = hello;
            h[at] = bad;
            if at == 7 {
                h[8] = 0x10; // a handshake length under the smallest ClientHello
            }
            assert_eq!(client_hello_evidence(&h), Evidence::NotTls, "byte {at}");
        }
        // Telnet's WILL ECHO: the high bit, then message type 1, then no SSL version.
        assert_eq!(
            client_hello_evidence(&[0xff, 0xfb, 0x01]),
            Evidence::NeedMore
        );
        assert_eq!(
            client_hello_evidence(&[0xff, 0xfb, 0x01, 0xff]),
            Evidence::NotTls
        );
        assert_eq!(client_hello_evidence(b"SSH-2.0-"), Evidence::NotTls);
    }
}
