//! One UDP exchange carrying a QUIC or DTLS handshake: what each side's hellos said, and how
//! it ended, in the same [`FlowRecord`] as TLS over TCP.
//!
//! Outcomes: a fatal cleartext DTLS alert, or a QUIC CONNECTION_CLOSE carrying a TLS alert
//! (CRYPTO_ERROR) in an Initial packet, is `alert`; any other CONNECTION_CLOSE in an Initial
//! is `closed` (`no_response` when it is the client giving up on a server that never
//! answered); a ServerHello and then encrypted traffic both ways (QUIC: 1-RTT packets from
//! both sides; DTLS 1.0/1.2: ChangeCipherSpec both ways; DTLS 1.3: encrypted records both
//! ways) is `established`; a ServerHello alone is `negotiated`; nothing back is
//! `no_response`.

use std::net::SocketAddr;
use std::time::Duration;

use helloscope_tls::dtls::DtlsReader;
use helloscope_tls::quic::{InitialReader, QuicVersion, Sender};
use helloscope_tls::{AlertDescription, AlertLevel, Error, Transport};

use crate::record::{
    ClientHelloSummary, EndReason, FlowFlags, FlowRecord, Outcome, ServerHelloSummary, Side,
};
use crate::stats::Stats;

/// The handshake reader of the exchange.
enum Reader {
    Quic(Box<InitialReader>),
    Dtls(Box<DtlsReader>),
}

pub(crate) struct UdpFlow {
    reader: Reader,
    client: SocketAddr,
    server: SocketAddr,
    pub(crate) first_seen: Duration,
    pub(crate) last_seen: Duration,
    packets: u64,
    datagrams_from_server: u64,
    client_hello: Option<ClientHelloSummary>,
    client_hellos: u32,
    server_hello: Option<ServerHelloSummary>,
    decided: Option<Outcome>,
    malformed: bool,
    /// The encapsulations it came through, outermost first.
    pub(crate) tunnel: crate::decode::TunnelStack,
    pub(crate) buffer_limit: bool,
}

fn side(s: Sender) -> Side {
    match s {
        Sender::Client => Side::Client,
        Sender::Server => Side::Server,
    }
}

impl UdpFlow {
    /// An exchange started by `payload` from `client`, when it is a QUIC client Initial that
    /// opens under its keys, or a DTLS record that parses; `None` otherwise (no state kept).
    pub(crate) fn start(
        transport: Transport,
        client: SocketAddr,
        server: SocketAddr,
        payload: &[u8],
        ts: Duration,
        limit: usize,
        stats: &mut Stats,
    ) -> Option<Self> {
        let reader = match transport {
            Transport::Quic => {
                let mut r = InitialReader::new(limit);
                let _ = r.on_datagram(payload, Sender::Client);
                // Only an Initial that authenticated makes a QUIC connection: five bytes that
                // look like one are not enough.
                r.version()?;
                Reader::Quic(Box::new(r))
            }
            _ => {
                let mut r = DtlsReader::new(limit);
                r.on_datagram(payload, Sender::Client).ok()?;
                Reader::Dtls(Box::new(r))
            }
        };
        let mut f = UdpFlow {
            reader,
            client,
            server,
            first_seen: ts,
            last_seen: ts,
            packets: 1,
            datagrams_from_server: 0,
            client_hello: None,
            client_hellos: 0,
            server_hello: None,
            decided: None,
            malformed: false,
            tunnel: crate::decode::TunnelStack::new(),
            buffer_limit: false,
        };
        f.update(stats);
        Some(f)
    }

    /// Takes a datagram sent by `from`; true when the outcome is now decided.
    pub(crate) fn on_datagram(
        &mut self,
        from: SocketAddr,
        payload: &[u8],
        ts: Duration,
        stats: &mut Stats,
    ) -> bool {
        self.packets += 1;
        self.last_seen = self.last_seen.max(ts);
        let sender = if from == self.client {
            Sender::Client
        } else {
            self.datagrams_from_server += 1;
            Sender::Server
        };
        let r = match &mut self.reader {
            Reader::Quic(q) => q.on_datagram(payload, sender),
            Reader::Dtls(d) => d.on_datagram(payload, sender),
        };
        match r {
            // A 1-RTT or Handshake packet that cannot be read is expected; a QUIC Initial
            // that does not open is counted.
            Err(Error::Malformed {
                structure: helloscope_tls::Structure::QuicInitialPacket,
                ..
            }) => stats.quic_initials_undecryptable += 1,
            Err(_) => self.malformed = true,
            Ok(()) => {}
        }
        self.update(stats);
        self.decided.is_some()
    }

    /// Summarises hellos that became whole, and decides the outcome when it can be.
    fn update(&mut self, stats: &mut Stats) {
        let _ = stats;
        match &self.reader {
            Reader::Quic(q) => {
                if self.client_hello.is_none() {
                    match q.client_hello() {
                        Ok(h) => {
                            self.client_hello =
                                Some(ClientHelloSummary::from_hello_over(&h, Transport::Quic));
                        }
                        Err(Error::Incomplete { .. }) => {}
                        Err(_) => self.malformed = true,
                    }
                }
                if self.server_hello.is_none() {
                    match q.server_hello() {
                        Ok(h) => {
                            self.server_hello =
                                Some(ServerHelloSummary::from_hello_over(&h, Transport::Quic));
                        }
                        Err(Error::Incomplete { .. }) => {}
                        Err(_) => self.malformed = true,
                    }
                }
                if let Some(c) = q.connection_close() {
                    self.decided = Some(match c.tls_alert {
                        Some(d) => Outcome::Alert {
                            level: AlertLevel::Fatal,
                            description: AlertDescription(d),
                            from: side(c.from),
                        },
                        // A client giving up on a server that never answered.
                        None if self.datagrams_from_server == 0 => Outcome::NoResponse,
                        None => Outcome::Closed { from: side(c.from) },
                    });
                } else if self.server_hello.is_some()
                    && q.sent_one_rtt(Sender::Client)
                    && q.sent_one_rtt(Sender::Server)
                {
                    self.decided = Some(Outcome::Established);
                }
            }
            Reader::Dtls(d) => {
                // After a HelloVerifyRequest the second ClientHello is the one that counts.
                if d.client_hellos() > self.client_hellos {
                    self.client_hellos = d.client_hellos();
                    match d.client_hello() {
                        Ok(h) => {
                            self.client_hello =
                                Some(ClientHelloSummary::from_hello_over(&h, Transport::Dtls));
                        }
                        Err(_) => self.malformed = true,
                    }
                }
                if self.server_hello.is_none() {
                    match d.server_hello() {
                        Ok(h) => {
                            self.server_hello =
                                Some(ServerHelloSummary::from_hello_over(&h, Transport::Dtls));
                        }
                        Err(Error::Incomplete { .. }) => {}
                        Err(_) => self.malformed = true,
                    }
                }
                if let Some((from, a)) = d.alert() {
                    if a.level != AlertLevel::Warning {
                        self.decided = Some(Outcome::Alert {
                            level: a.level,
                            description: a.description,
                            from: side(from),
                        });
                    }
                } else if self.server_hello.is_some() {
                    let both = |f: &dyn Fn(Sender) -> bool| f(Sender::Client) && f(Sender::Server);
                    let tls13 = self
                        .server_hello
                        .as_ref()
                        .is_some_and(|s| s.version == helloscope_tls::TlsVersion::Dtls13);
                    let done = if tls13 {
                        both(&|s| d.sent_encrypted(s))
                    } else {
                        both(&|s| d.sent_change_cipher_spec(s))
                    };
                    if done {
                        self.decided = Some(Outcome::Established);
                    }
                }
            }
        }
    }

    pub(crate) fn decided(&self) -> bool {
        self.decided.is_some()
    }

    pub(crate) fn buffered(&self) -> usize {
        match &self.reader {
            Reader::Quic(q) => q.buffered(),
            Reader::Dtls(d) => d.buffered(),
        }
    }

    fn transport(&self) -> Transport {
        match self.reader {
            Reader::Quic(_) => Transport::Quic,
            Reader::Dtls(_) => Transport::Dtls,
        }
    }

    fn quic_version(&self) -> Option<QuicVersion> {
        match &self.reader {
            Reader::Quic(q) => q.version(),
            Reader::Dtls(_) => None,
        }
    }

    /// The exchange's record; its summaries are moved out (it is reported once).
    pub(crate) fn record(&mut self, end: EndReason) -> FlowRecord {
        let outcome = match self.decided {
            Some(o) => o,
            None if self.client_hello.is_none() => Outcome::Incomplete,
            None if self.server_hello.is_some() => Outcome::Negotiated,
            None if self.datagrams_from_server == 0 => Outcome::NoResponse,
            None => Outcome::Incomplete,
        };
        FlowRecord {
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            client: self.client,
            server: self.server,
            client_hello: self.client_hello.take(),
            server_hello: self.server_hello.take(),
            outcome,
            end,
            flags: FlowFlags {
                malformed: self.malformed,
                buffer_limit: self.buffer_limit,
                ..FlowFlags::default()
            },
            packets: self.packets,
            tunnel: self.tunnel,
            transport: self.transport(),
            quic_version: self.quic_version().map(|v| v.0),
        }
    }
}
