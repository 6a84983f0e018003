//! QUIC Initial packets (RFC 9000, RFC 9001; version 2 per RFC 9369; draft-29): the TLS
//! ClientHello and ServerHello a QUIC handshake carries in CRYPTO frames inside Initial
//! packets, whose protection anyone can remove.
//!
//! The layers, each in its own module:
//! - [`read_varint`]: variable-length integers (RFC 9000 §16);
//! - [`parse_packet`], [`Packets`]: long headers, Version Negotiation, Retry, and packets
//!   coalesced in one datagram (RFC 9000 §17, §12.2);
//! - [`InitialKeys`]: Initial secrets from the client's Destination Connection ID, header and
//!   payload protection removed (RFC 9001 §5) — with RustCrypto's `hkdf`, `aes` and `aes-gcm`;
//! - [`Frames`]: the frames of an Initial payload (PADDING, PING, ACK, CRYPTO,
//!   CONNECTION_CLOSE);
//! - [`CryptoStream`]: CRYPTO data put back in order, bounded;
//! - [`InitialReader`]: all of it for one connection, both directions, until the ClientHello
//!   and ServerHello are whole.
//!
//! ```
//! use helloscope_tls::quic::{InitialReader, Sender};
//! use helloscope_tls::{ja4, Transport};
//! # let datagram = helloscope_tls::doc_sample::quic_client_initial();
//! // `datagram`: the UDP payload of the client's first datagram (RFC 9001 Appendix A.2).
//! let mut conn = InitialReader::new(1 << 16);
//! conn.on_datagram(&datagram, Sender::Client)?;
//! let hello = conn.client_hello()?;
//! assert_eq!(hello.server_name_str(), Some("example.com"));
//! assert_eq!(ja4(&hello, Transport::Quic).a(), "q13d0211an");
//! # Ok::<(), helloscope_tls::Error>(())
//! ```

mod crypto_stream;
mod frame;
mod packet;
mod protection;
mod varint;

pub use crypto_stream::CryptoStream;
pub use frame::{Frame, Frames};
pub use packet::{
    looks_like_initial, parse_packet, LongHeader, LongPacketType, Packet, Packets, QuicVersion,
};
pub use protection::{InitialKeys, Sender};
pub use varint::read_varint;

use crate::client_hello::ClientHello;
use crate::error::{Error, Structure};
use crate::handshake::HandshakeType;
use crate::server_hello::ServerHello;

/// A CONNECTION_CLOSE frame found in an Initial packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionClose {
    /// Who sent it.
    pub from: Sender,
    /// True for an application's close (frame type 0x1d).
    pub application: bool,
    /// The error code.
    pub error_code: u64,
    /// The TLS alert description, when the code is a CRYPTO_ERROR (0x0100–0x01ff).
    pub tls_alert: Option<u8>,
}

/// The Initial keys of both directions, for one version.
#[derive(Clone, Debug)]
struct Keys {
    client: InitialKeys,
    server: InitialKeys,
}

impl Keys {
    fn new(version: QuicVersion, dcid: &[u8]) -> Option<Self> {
        Some(Keys {
            client: InitialKeys::new(version, dcid, Sender::Client)?,
            server: InitialKeys::new(version, dcid, Sender::Server)?,
        })
    }

    fn of(&self, s: Sender) -> &InitialKeys {
        match s {
            Sender::Client => &self.client,
            Sender::Server => &self.server,
        }
    }
}

/// Everything the Initial packets of one QUIC connection say, read from its datagrams in
/// both directions: the crypto streams (where the ClientHello and ServerHello are), Retry,
/// Version Negotiation, CONNECTION_CLOSE, and whether each side went on to 1-RTT packets.
///
/// Keys come from the Destination Connection ID of the client's first Initial; after a
/// Retry, or when a client Initial does not open under them (a capture that missed the first
/// one), from the DCID of the client Initial at hand.
///
/// Bounded: each crypto stream holds at most `limit` bytes; one scratch buffer the size of
/// a datagram is reused for decryption.
#[derive(Clone, Debug)]
pub struct InitialReader {
    /// The client's first Destination Connection ID (at most 20 bytes).
    odcid: ([u8; 20], usize),
    keys: Option<Keys>,
    version: Option<QuicVersion>,
    client: CryptoStream,
    server: CryptoStream,
    scratch: Vec<u8>,
    retry: bool,
    /// A Retry was seen and the client has not sent its next Initial yet.
    retry_pending: bool,
    version_negotiation: bool,
    close: Option<ConnectionClose>,
    one_rtt: [bool; 2],
    handshake_packets: [bool; 2],
    initials: [u32; 2],
    undecryptable: [u32; 2],
}

fn idx(s: Sender) -> usize {
    match s {
        Sender::Client => 0,
        Sender::Server => 1,
    }
}

impl InitialReader {
    /// A reader whose crypto streams hold at most `limit` bytes each.
    pub fn new(limit: usize) -> Self {
        InitialReader {
            odcid: ([0; 20], 0),
            keys: None,
            version: None,
            client: CryptoStream::new(limit),
            server: CryptoStream::new(limit),
            scratch: Vec::new(),
            retry: false,
            retry_pending: false,
            version_negotiation: false,
            close: None,
            one_rtt: [false; 2],
            handshake_packets: [false; 2],
            initials: [0; 2],
            undecryptable: [0; 2],
        }
    }

    /// Reads one UDP datagram sent by `from`. Every packet in it that can be read is read;
    /// the error, if any, is about the first that could not (the rest of the datagram is
    /// then skipped), and the state stays as good as before it.
    pub fn on_datagram(&mut self, datagram: &[u8], from: Sender) -> Result<(), Error> {
        let mut packets = Packets::new(datagram);
        let mut first_err = None;
        for p in packets.by_ref() {
            let r = match p {
                Packet::VersionNegotiation { .. } => {
                    self.version_negotiation |= from == Sender::Server;
                    Ok(())
                }
                Packet::Short { .. } => {
                    self.one_rtt[idx(from)] = true;
                    Ok(())
                }
                Packet::Long(h) => self.on_long(&h, from),
            };
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        match first_err.or(packets.stopped_by()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn on_long(&mut self, h: &LongHeader<'_>, from: Sender) -> Result<(), Error> {
        match h.packet_type {
            LongPacketType::Initial => self.on_initial(h, from),
            LongPacketType::Retry => {
                // A client accepts one Retry (RFC 9000 §17.2.5.2); a server may send more
                // (one per Initial it got), which the client ignores.
                if from == Sender::Server && !self.retry {
                    self.retry = true;
                    self.retry_pending = true;
                    // A hello already whole is kept: the client sends the same one again.
                    if self.client.first_message().is_err() {
                        self.client.clear();
                    }
                }
                Ok(())
            }
            LongPacketType::Handshake | LongPacketType::ZeroRtt => {
                self.handshake_packets[idx(from)] |= h.packet_type == LongPacketType::Handshake;
                Ok(())
            }
        }
    }

    fn set_odcid(&mut self, dcid: &[u8]) {
        // parse_packet refuses longer connection IDs for the versions read here.
        let n = dcid.len().min(20);
        self.odcid.0[..n].copy_from_slice(&dcid[..n]);
        self.odcid.1 = n;
    }

    fn on_initial(&mut self, h: &LongHeader<'_>, from: Sender) -> Result<(), Error> {
        self.initials[idx(from)] += 1;
        if from == Sender::Client && self.retry_pending {
            // The client's first Initial after the Retry has the Retry's Source Connection
            // ID as its DCID, and both sides' keys now come from it (RFC 9001 §5.2).
            self.retry_pending = false;
            self.keys = None;
            self.set_odcid(h.dcid);
        }
        // Keys for this packet's version, from the connection's first DCID.
        let stale = self.keys.as_ref().map(|k| k.client.version()) != Some(h.version);
        if stale {
            if self.odcid.1 == 0 {
                if from == Sender::Server {
                    self.undecryptable[1] += 1;
                    return Err(Error::Malformed {
                        structure: Structure::QuicInitialPacket,
                        field: "server Initial before any client Initial",
                    });
                }
                self.set_odcid(h.dcid);
            }
            self.keys = Keys::new(h.version, &self.odcid.0[..self.odcid.1]);
        }
        let mut scratch = core::mem::take(&mut self.scratch);
        let keys = self.keys.as_ref().ok_or(Error::Malformed {
            structure: Structure::QuicInitialPacket,
            field: "version",
        })?;
        let mut opened = keys.of(from).open(h, &mut scratch);
        if opened.is_err() && from == Sender::Client && h.dcid != &self.odcid.0[..self.odcid.1] {
            // A capture that missed the first Initial, or a Retry that was not seen.
            if let Some(k) = Keys::new(h.version, h.dcid) {
                opened = k.client.open(h, &mut scratch);
                if opened.is_ok() {
                    self.keys = Some(k);
                    self.set_odcid(h.dcid);
                }
            }
        }
        let r = match opened {
            Ok(_) => {
                self.version = Some(h.version);
                self.on_frames(&scratch, from)
            }
            Err(e) => {
                self.undecryptable[idx(from)] += 1;
                Err(e)
            }
        };
        self.scratch = scratch;
        r
    }

    fn on_frames(&mut self, payload: &[u8], from: Sender) -> Result<(), Error> {
        let stream = match from {
            Sender::Client => &mut self.client,
            Sender::Server => &mut self.server,
        };
        for f in Frames::new(payload) {
            match f? {
                Frame::Crypto { offset, data } => stream.insert(offset, data)?,
                f @ Frame::ConnectionClose {
                    application,
                    error_code,
                    ..
                } => {
                    self.close.get_or_insert(ConnectionClose {
                        from,
                        application,
                        error_code,
                        tls_alert: f.tls_alert(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The version of the last Initial that opened.
    pub fn version(&self) -> Option<QuicVersion> {
        self.version
    }

    /// The crypto stream of one side.
    pub fn crypto_stream(&self, s: Sender) -> &CryptoStream {
        match s {
            Sender::Client => &self.client,
            Sender::Server => &self.server,
        }
    }

    fn first_message(&self, s: Sender, t: HandshakeType) -> Result<&[u8], Error> {
        let m = self.crypto_stream(s).first_message()?;
        if m.msg_type != t {
            return Err(Error::Malformed {
                structure: Structure::QuicCryptoStream,
                field: "first message is not a hello",
            });
        }
        Ok(m.body)
    }

    /// The client's ClientHello, once whole ([`Error::Incomplete`] until then).
    pub fn client_hello(&self) -> Result<ClientHello<'_>, Error> {
        ClientHello::parse(self.first_message(Sender::Client, HandshakeType::CLIENT_HELLO)?)
    }

    /// The server's ServerHello, once whole ([`Error::Incomplete`] until then).
    pub fn server_hello(&self) -> Result<ServerHello<'_>, Error> {
        ServerHello::parse(self.first_message(Sender::Server, HandshakeType::SERVER_HELLO)?)
    }

    /// The server sent a Retry.
    pub fn retry(&self) -> bool {
        self.retry
    }

    /// The server sent a Version Negotiation packet.
    pub fn version_negotiation(&self) -> bool {
        self.version_negotiation
    }

    /// The first CONNECTION_CLOSE frame found in an Initial packet.
    pub fn connection_close(&self) -> Option<ConnectionClose> {
        self.close
    }

    /// `s` sent a short-header (1-RTT) packet: for the client, proof that it finished the
    /// handshake.
    pub fn sent_one_rtt(&self, s: Sender) -> bool {
        self.one_rtt[idx(s)]
    }

    /// `s` sent a Handshake packet.
    pub fn sent_handshake(&self, s: Sender) -> bool {
        self.handshake_packets[idx(s)]
    }

    /// Initial packets seen from `s`, and how many of them could not be opened.
    pub fn initials(&self, s: Sender) -> (u32, u32) {
        (self.initials[idx(s)], self.undecryptable[idx(s)])
    }

    /// Bytes held by the crypto streams and the scratch buffer.
    pub fn buffered(&self) -> usize {
        self.client.buffered() + self.server.buffered() + self.scratch.capacity()
    }
}

#[cfg(test)]
mod tests;
