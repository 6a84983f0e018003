//! What the TLS events of both directions of a connection established.

use helloscope_tls::{AlertLevel, ClientHello, HandshakeType, ServerHello, TlsVersion};

use super::idx;
use crate::fingerprint_cache::FingerprintCache;
use crate::record::{ClientHelloSummary, Outcome, ServerHelloSummary, Side};
use crate::tls_stream::TlsEvent;

/// What the TLS events of both directions established.
#[derive(Debug, Default)]
pub(super) struct HandshakeState {
    pub(super) client_hello: Option<ClientHelloSummary>,
    pub(super) server_hello: Option<ServerHelloSummary>,
    pub(super) final_server_hello: bool,
    ccs: [bool; 2],
    app_data: [bool; 2],
    alert: Option<(AlertLevel, helloscope_tls::AlertDescription, Side)>,
    established: bool,
    pub(super) malformed_hello: bool,
    /// A later copy of the ClientHello's bytes disagreed with the one read.
    pub(super) hello_conflict: bool,
}

impl HandshakeState {
    pub(super) fn on_event(&mut self, side: Side, ev: TlsEvent<'_>, fp: &mut FingerprintCache) {
        match ev {
            TlsEvent::Handshake(m) => match (side, m.msg_type) {
                (Side::Client, HandshakeType::CLIENT_HELLO) if self.client_hello.is_none() => {
                    match ClientHello::parse(m.body) {
                        Ok(h) if !h.extensions_malformed() => {
                            let f = fp.client(&h);
                            self.client_hello = Some(ClientHelloSummary::with_fingerprints(&h, f))
                        }
                        _ => self.on_damaged_client_hello(m.body),
                    }
                }
                (Side::Server, HandshakeType::SERVER_HELLO) if !self.final_server_hello => {
                    match ServerHello::parse(m.body) {
                        Ok(h) => {
                            match &mut self.server_hello {
                                None => {
                                    let f = fp.server(&h);
                                    self.server_hello =
                                        Some(ServerHelloSummary::with_fingerprints(&h, f))
                                }
                                Some(s) => s.update_from_final(&h),
                            }
                            self.final_server_hello = !h.is_hello_retry_request();
                        }
                        Err(_) => self.malformed_hello = true,
                    }
                }
                _ => {}
            },
            TlsEvent::Sslv2Hello(h) if side == Side::Client && self.client_hello.is_none() => {
                self.client_hello = Some(ClientHelloSummary::from_sslv2(&h));
            }
            TlsEvent::Sslv2Hello(_) => {}
            TlsEvent::ChangeCipherSpec => self.ccs[idx(side)] = true,
            TlsEvent::ApplicationData => self.app_data[idx(side)] = true,
            TlsEvent::Alert(a) => {
                // Keep the first alert that ends something: a fatal one, or any alert before
                // the handshake is done (a warning close_notify there still ends it).
                if self.alert.is_none() && !self.established {
                    self.alert = Some((a.level, a.description, side));
                }
            }
            TlsEvent::EncryptedAlert => {}
        }
        if !self.established && self.final_server_hello {
            let v = self.server_hello.as_ref().map(|s| s.version);
            let tls13 = matches!(v, Some(TlsVersion::Tls13 | TlsVersion::Tls13Draft(_)));
            self.established = if tls13 {
                self.app_data == [true, true]
            } else {
                self.ccs == [true, true]
            };
        }
    }

    /// A ClientHello damaged or cut short: what was read before the damage is reported,
    /// flagged `malformed`.
    #[cold]
    #[inline(never)]
    pub(super) fn on_damaged_client_hello(&mut self, body: &[u8]) {
        self.malformed_hello = true;
        if let Some(h) = ClientHello::parse_partial(body) {
            self.client_hello = Some(ClientHelloSummary::from_damaged_hello(&h));
        }
    }

    /// The outcome when something decisive happened.
    pub(super) fn decided(&self) -> Option<Outcome> {
        if let Some((level, description, from)) = self.alert {
            // A warning that is not close_notify (unrecognized_name …) does not end anything.
            let ends = level != AlertLevel::Warning
                || description == helloscope_tls::AlertDescription::CLOSE_NOTIFY;
            if ends {
                return Some(Outcome::Alert {
                    level,
                    description,
                    from,
                });
            }
        }
        if self.established {
            return Some(Outcome::Established);
        }
        None
    }
}
