//! DTLS handshakes (RFC 6347 for DTLS 1.0 and 1.2, RFC 9147 for DTLS 1.3): records with
//! epochs and sequence numbers, handshake messages in fragments, HelloVerifyRequest, and the
//! ClientHello with its cookie.
//!
//! - [`parse_dtls_record`], [`DtlsRecords`]: the records of one datagram;
//! - [`parse_handshake_fragment`], [`FragmentReassembler`]: handshake fragments put back
//!   together, retransmissions and overlaps included, bounded;
//! - [`HelloVerifyRequest`]; [`crate::ClientHello::parse_dtls`] reads the cookie;
//! - [`DtlsReader`]: all of it for one association, both directions.
//!
//! DTLS 1.3 sends its ClientHello and ServerHello in plaintext records like DTLS 1.2 (record
//! version 0xfefd, the real offer in supported_versions); its encrypted records use a
//! unified header, which [`DtlsReader`] notes and skips.
//!
//! ```
//! use helloscope_tls::dtls::{DtlsReader, Sender};
//! use helloscope_tls::{ja4, Transport, TlsVersion};
//! // A DTLS 1.2 ClientHello in one record: one suite, null compression, no extensions.
//! let mut body = vec![0xfe, 0xfd];
//! body.extend([0u8; 32]);
//! body.extend([0, 0, 0, 2, 0xc0, 0x2b, 1, 0]);
//! let mut hs = vec![1, 0, 0, body.len() as u8, 0, 0, 0, 0, 0, 0, 0, body.len() as u8];
//! hs.extend(&body);
//! let mut datagram = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, hs.len() as u8];
//! datagram.extend(&hs);
//! assert!(helloscope_tls::dtls::looks_like_client_hello(&datagram));
//! let mut assoc = DtlsReader::new(1 << 16);
//! assoc.on_datagram(&datagram, Sender::Client)?;
//! let hello = assoc.client_hello()?;
//! assert_eq!(hello.highest_version(), TlsVersion::Dtls12);
//! assert_eq!(ja4(&hello, Transport::Dtls).a(), "dd2i010000");
//! # Ok::<(), helloscope_tls::Error>(())
//! ```

mod handshake;
mod record;

pub use handshake::{
    parse_handshake_fragment, DtlsMessage, FragmentReassembler, HandshakeFragment,
    HelloVerifyRequest, DTLS_HANDSHAKE_HEADER_LEN, HELLO_VERIFY_REQUEST,
};
pub use record::{parse_dtls_record, DtlsRecord, DtlsRecords, DTLS_RECORD_HEADER_LEN};

/// Which end sent a datagram.
pub use crate::quic::Sender;

use crate::alert::Alert;
use crate::client_hello::ClientHello;
use crate::error::Error;
use crate::handshake::HandshakeType;
use crate::record::ContentType;
use crate::server_hello::ServerHello;

/// True when `datagram` starts with a DTLS handshake record of epoch 0 holding the start of a
/// ClientHello: a dozen byte comparisons, for finding DTLS on any port.
///
/// ```
/// assert!(!helloscope_tls::dtls::looks_like_client_hello(b"\x16\x03\x01\x00\x05"));
/// ```
#[inline]
pub fn looks_like_client_hello(datagram: &[u8]) -> bool {
    let Some(h) = datagram.get(..DTLS_RECORD_HEADER_LEN + DTLS_HANDSHAKE_HEADER_LEN) else {
        return false;
    };
    h[0] == ContentType::Handshake as u8
        && record::is_dtls_version(h[1], h[2])
        && h[3..5] == [0, 0]
        && h[13] == HandshakeType::CLIENT_HELLO.0
}

/// One side's hello, copied out of its fragments (bounded by the reassembler's limit).
#[derive(Clone, Debug, Default)]
struct Hello {
    body: Vec<u8>,
    count: u32,
}

/// Everything the cleartext part of one DTLS association says, read from its datagrams in
/// both directions: the ClientHello that counts (the one after a HelloVerifyRequest, which
/// carries the cookie; else the first), the first ServerHello, a cleartext alert, ChangeCipherSpec and encrypted
/// records per side.
#[derive(Clone, Debug)]
pub struct DtlsReader {
    reassembly: [FragmentReassembler; 2],
    client_hello: Hello,
    server_hello: Hello,
    hello_verify_request: bool,
    alert: Option<(Sender, Alert)>,
    change_cipher_spec: [bool; 2],
    encrypted: [bool; 2],
    record_version: Option<crate::TlsVersion>,
}

fn idx(s: Sender) -> usize {
    match s {
        Sender::Client => 0,
        Sender::Server => 1,
    }
}

impl DtlsReader {
    /// A reader that reassembles messages of at most `max_message_len` bytes.
    pub fn new(max_message_len: usize) -> Self {
        DtlsReader {
            reassembly: [
                FragmentReassembler::new(max_message_len),
                FragmentReassembler::new(max_message_len),
            ],
            client_hello: Hello::default(),
            server_hello: Hello::default(),
            hello_verify_request: false,
            alert: None,
            change_cipher_spec: [false; 2],
            encrypted: [false; 2],
            record_version: None,
        }
    }

    /// Reads one datagram sent by `from`. Every record that can be read is read; the error
    /// is about the first that could not.
    pub fn on_datagram(&mut self, datagram: &[u8], from: Sender) -> Result<(), Error> {
        let mut rest = datagram;
        let mut first_err = None;
        while !rest.is_empty() {
            if is_unified_header(rest) {
                // DTLS 1.3 ciphertext, under keys nobody watching has; its length may be
                // implicit, so nothing after it can be found.
                self.encrypted[idx(from)] = true;
                break;
            }
            let r = match parse_dtls_record(rest) {
                Ok((r, next)) => {
                    rest = next;
                    r
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                    break;
                }
            };
            if r.epoch != 0 {
                self.encrypted[idx(from)] = true;
                continue;
            }
            match r.content_type() {
                Some(ContentType::Handshake) => {
                    self.record_version.get_or_insert(r.version);
                    if let Err(e) = self.on_handshake(r.fragment, from) {
                        first_err.get_or_insert(e);
                    }
                }
                Some(ContentType::Alert) => match Alert::parse(r.fragment) {
                    Ok(a) => {
                        self.alert.get_or_insert((from, a));
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Some(ContentType::ChangeCipherSpec) => self.change_cipher_spec[idx(from)] = true,
                Some(ContentType::ApplicationData) => self.encrypted[idx(from)] = true,
                _ => {}
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn on_handshake(&mut self, mut fragment: &[u8], from: Sender) -> Result<(), Error> {
        while !fragment.is_empty() {
            let (f, rest) = parse_handshake_fragment(fragment)?;
            fragment = rest;
            let mut hvr = false;
            let hvr_seen = self.hello_verify_request;
            let (client_hello, server_hello) = (&mut self.client_hello, &mut self.server_hello);
            self.reassembly[idx(from)].push(f, |m| {
                let hello = match (from, m.msg_type) {
                    (Sender::Client, HandshakeType::CLIENT_HELLO) => client_hello,
                    (Sender::Server, HandshakeType::SERVER_HELLO) => server_hello,
                    (Sender::Server, HELLO_VERIFY_REQUEST) => {
                        hvr = true;
                        return;
                    }
                    _ => return,
                };
                hello.count += 1;
                // The ClientHello that counts is the one after a HelloVerifyRequest (the
                // same hello again, with the cookie); otherwise the first, as over TCP (a
                // DTLS 1.3 client's hello after a HelloRetryRequest is another hello, and
                // fingerprints are of the first). The ServerHello is the first.
                if hello.body.is_empty() || (from == Sender::Client && hello.count == 2 && hvr_seen)
                {
                    hello.body.clear();
                    hello.body.extend_from_slice(m.body);
                }
            })?;
            self.hello_verify_request |= hvr;
        }
        Ok(())
    }

    /// The ClientHello that counts: the one right after the HelloVerifyRequest when there was
    /// one, else the first ([`Error::Incomplete`] until one is whole).
    pub fn client_hello(&self) -> Result<ClientHello<'_>, Error> {
        if self.client_hello.count == 0 {
            return Err(Error::Incomplete { needed: 1 });
        }
        ClientHello::parse_dtls(&self.client_hello.body)
    }

    /// How many distinct ClientHellos were whole (2 after a HelloVerifyRequest).
    pub fn client_hellos(&self) -> u32 {
        self.client_hello.count
    }

    /// The server's first ServerHello ([`Error::Incomplete`] until one is whole).
    pub fn server_hello(&self) -> Result<ServerHello<'_>, Error> {
        if self.server_hello.count == 0 {
            return Err(Error::Incomplete { needed: 1 });
        }
        ServerHello::parse(&self.server_hello.body)
    }

    /// The server sent a HelloVerifyRequest.
    pub fn hello_verify_request(&self) -> bool {
        self.hello_verify_request
    }

    /// The first cleartext alert, and who sent it.
    pub fn alert(&self) -> Option<(Sender, Alert)> {
        self.alert
    }

    /// `s` sent a ChangeCipherSpec (DTLS 1.0 and 1.2).
    pub fn sent_change_cipher_spec(&self, s: Sender) -> bool {
        self.change_cipher_spec[idx(s)]
    }

    /// `s` sent an encrypted record (epoch above 0, or DTLS 1.3's unified header).
    pub fn sent_encrypted(&self, s: Sender) -> bool {
        self.encrypted[idx(s)]
    }

    /// The version of the first handshake record.
    pub fn record_version(&self) -> Option<crate::TlsVersion> {
        self.record_version
    }

    /// Bytes held: hellos and messages being reassembled.
    pub fn buffered(&self) -> usize {
        self.client_hello.body.capacity()
            + self.server_hello.body.capacity()
            + self.reassembly.iter().map(|r| r.pending()).sum::<usize>()
    }
}

fn is_unified_header(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| b & 0xe0 == 0x20)
}
