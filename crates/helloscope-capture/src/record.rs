//! What comes out: one [`FlowRecord`] per TLS flow (over TCP, QUIC or DTLS).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use helloscope_tls::extensions::parse_server_name;
use helloscope_tls::{
    AlertDescription, AlertLevel, CipherSuite, ClientHello, DowngradeSentinel, ExtensionType,
    ServerHello, Sslv2ClientHello, TlsVersion, Transport,
};

use crate::decode::TunnelStack;
use crate::fingerprint_cache::{ClientFingerprints, ServerFingerprints};

/// A name from the wire (server name, ALPN protocol) as text: invalid UTF-8 replaced with
/// U+FFFD. Names are almost always ASCII, which `from_utf8` checks a word at a time; the lossy
/// decoder walks them in chunks and cost more than the rest of a hello's summary.
pub(crate) fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Which end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The end that sent the ClientHello.
    Client,
    /// The other end.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// How the handshake ended, as far as the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// TLS 1.2 and below: ChangeCipherSpec both ways and no fatal alert; TLS 1.3: application
    /// data both ways.
    Established,
    /// A ServerHello was seen, but the end of the handshake was not.
    Negotiated,
    /// A cleartext alert ended the handshake.
    Alert {
        /// Its level.
        level: AlertLevel,
        /// Its description.
        description: AlertDescription,
        /// Who sent it.
        from: Side,
    },
    /// A TCP reset ended the connection before the handshake completed.
    Reset {
        /// Who sent it.
        from: Side,
    },
    /// A FIN ended the connection before the handshake completed.
    Closed {
        /// Who sent it first.
        from: Side,
    },
    /// The client spoke and the server sent nothing back.
    NoResponse,
    /// The capture does not hold enough of the handshake to say (hole, limit, cut short).
    Incomplete,
    /// Only the server's side was captured (asymmetric routing, a tap on one fibre): the
    /// client sent no SYN, data, FIN or RST that the capture holds. Client fields are null.
    ClientUnseen,
    /// Only the client's side was captured: the server sent no SYN-ACK, data, FIN or RST
    /// that the capture holds. Server fields are null.
    ServerUnseen,
}

impl Outcome {
    /// The stable name: established, negotiated, alert, reset, closed, no_response,
    /// incomplete, client_unseen, server_unseen.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Established => "established",
            Outcome::Negotiated => "negotiated",
            Outcome::Alert { .. } => "alert",
            Outcome::Reset { .. } => "reset",
            Outcome::Closed { .. } => "closed",
            Outcome::NoResponse => "no_response",
            Outcome::Incomplete => "incomplete",
            Outcome::ClientUnseen => "client_unseen",
            Outcome::ServerUnseen => "server_unseen",
        }
    }
}

/// Why a flow's record was written when it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// The outcome was decided by what the flow sent.
    Decided,
    /// No packet for longer than the idle timeout.
    IdleTimeout,
    /// Evicted to make room in a full flow table.
    TableFull,
    /// The capture ended (end of file, or the sniffer was stopped).
    EndOfCapture,
}

impl EndReason {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Decided => "decided",
            EndReason::IdleTimeout => "timeout",
            EndReason::TableFull => "table_full",
            EndReason::EndOfCapture => "end_of_capture",
        }
    }
}

/// What the client's first hello said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHelloSummary {
    /// server_name, when present.
    pub sni: Option<String>,
    /// ALPN names offered, in order (lossy UTF-8). Shared by the flows of one client build.
    pub alpn: Arc<[String]>,
    /// Versions offered, highest first (legacy_version alone without supported_versions).
    /// Shared by the flows of one client build.
    pub versions_offered: Arc<[TlsVersion]>,
    /// The highest version offered.
    pub version_offered_max: TlsVersion,
    /// `legacy_version`.
    pub legacy_version: TlsVersion,
    /// Number of cipher suites, GREASE and SCSVs included.
    pub cipher_count: usize,
    /// TLS_FALLBACK_SCSV present: the client is retrying at a lower version.
    pub fallback_scsv: bool,
    /// The hello was in SSLv2 format.
    pub sslv2_format: bool,
    /// GREASE values appear in the hello (Chromium, Safari and other BoringSSL clients).
    pub grease: bool,
    /// Extension types in wire order, GREASE included.
    pub extensions: Vec<u16>,
    /// JA3 MD5 (none for SSLv2-format hellos). Shared by the flows of one client build.
    pub ja3: Option<Arc<str>>,
    /// JA3 string.
    pub ja3_string: Option<Arc<str>>,
    /// JA4 (none for SSLv2-format hellos).
    pub ja4: Option<Arc<str>>,
    /// JA4 raw form with sorted lists.
    pub ja4_r: Option<Arc<str>>,
}

impl ClientHelloSummary {
    /// Summarises a parsed ClientHello.
    pub fn from_hello(h: &ClientHello<'_>) -> Self {
        Self::with_fingerprints(h, ClientFingerprints::compute(h))
    }

    /// Summarises a ClientHello that travelled over `transport` (QUIC, DTLS): JA4 starts
    /// with its letter.
    pub fn from_hello_over(h: &ClientHello<'_>, transport: Transport) -> Self {
        Self::with_fingerprints(h, ClientFingerprints::compute_over(h, transport))
    }

    /// Summarises a parsed ClientHello whose fingerprints are known.
    pub(crate) fn with_fingerprints(h: &ClientHello<'_>, fp: ClientFingerprints) -> Self {
        // What is not in the fingerprint key: the server name, and the extension types with
        // the GREASE values this connection drew.
        let mut extensions = Vec::with_capacity(24);
        let mut sni = None;
        for e in h.extensions() {
            extensions.push(e.ext_type.0);
            if e.ext_type == ExtensionType::SERVER_NAME && sni.is_none() {
                sni = Some(e.data);
            }
        }
        ClientHelloSummary {
            sni: sni
                .and_then(|d| parse_server_name(d).ok().flatten())
                .map(text),
            alpn: fp.alpn,
            // `offered_versions` is never empty: legacy_version when nothing else.
            version_offered_max: fp.versions_offered[0],
            versions_offered: fp.versions_offered,
            legacy_version: h.legacy_version,
            cipher_count: fp.cipher_count,
            fallback_scsv: fp.fallback_scsv,
            sslv2_format: false,
            grease: fp.grease,
            extensions,
            ja3: Some(fp.ja3),
            ja3_string: Some(fp.ja3_string),
            ja4: Some(fp.ja4),
            ja4_r: Some(fp.ja4_r),
        }
    }

    /// Summarises a ClientHello that could not be read whole ([`ClientHello::is_damaged`]):
    /// the fields read before the damage, and no fingerprints, since not all of their
    /// inputs were read.
    pub fn from_damaged_hello(h: &ClientHello<'_>) -> Self {
        ClientHelloSummary {
            ja3: None,
            ja3_string: None,
            ja4: None,
            ja4_r: None,
            ..Self::from_hello(h)
        }
    }

    /// Summarises an SSLv2-format hello.
    pub fn from_sslv2(h: &Sslv2ClientHello<'_>) -> Self {
        ClientHelloSummary {
            sni: None,
            alpn: Arc::new([]),
            versions_offered: Arc::new([h.version]),
            version_offered_max: h.version,
            legacy_version: h.version,
            cipher_count: h.cipher_specs().count(),
            fallback_scsv: h.cipher_specs().any(|c| c == 0x5600),
            sslv2_format: true,
            grease: false,
            extensions: Vec::new(),
            ja3: None,
            ja3_string: None,
            ja4: None,
            ja4_r: None,
        }
    }
}

/// What the server's hello said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerHelloSummary {
    /// The negotiated version (from the final ServerHello).
    pub version: TlsVersion,
    /// The selected cipher suite (final ServerHello).
    pub cipher: CipherSuite,
    /// The selected ALPN protocol.
    pub alpn: Option<String>,
    /// A HelloRetryRequest came first.
    pub hello_retry: bool,
    /// A TLS 1.3 downgrade sentinel was in the random.
    pub downgrade_sentinel: Option<DowngradeSentinel>,
    /// JA3S of the first ServerHello.
    pub ja3s: Arc<str>,
    /// JA3S string.
    pub ja3s_string: Arc<str>,
    /// JA4S of the first ServerHello (HelloRetryRequest included); `None` unless built with
    /// the `ja4s` feature (FoxIO License 1.1).
    pub ja4s: Option<Arc<str>>,
}

impl ServerHelloSummary {
    /// Summarises the first ServerHello (or HelloRetryRequest) of a flow.
    pub fn from_hello(h: &ServerHello<'_>) -> Self {
        Self::with_fingerprints(h, ServerFingerprints::compute(h))
    }

    /// Summarises the first ServerHello of a QUIC connection or DTLS association.
    pub fn from_hello_over(h: &ServerHello<'_>, transport: Transport) -> Self {
        Self::with_fingerprints(h, ServerFingerprints::compute_over(h, transport))
    }

    /// Summarises the first ServerHello whose fingerprints are known.
    pub(crate) fn with_fingerprints(h: &ServerHello<'_>, fp: ServerFingerprints) -> Self {
        ServerHelloSummary {
            version: h.selected_version(),
            cipher: h.cipher_suite,
            alpn: h.alpn().map(text),
            hello_retry: h.is_hello_retry_request(),
            downgrade_sentinel: h.downgrade_sentinel(),
            ja3s: fp.ja3s,
            ja3s_string: fp.ja3s_string,
            ja4s: fp.ja4s,
        }
    }

    /// Takes the negotiated values of a later ServerHello (after a HelloRetryRequest), keeping
    /// the fingerprints of the first.
    pub fn update_from_final(&mut self, h: &ServerHello<'_>) {
        self.version = h.selected_version();
        self.cipher = h.cipher_suite;
        self.alpn = h.alpn().map(text);
        self.downgrade_sentinel = h.downgrade_sentinel();
    }
}

/// Anomalies seen on the flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowFlags {
    /// No SYN was seen: the capture started mid-connection.
    pub midstream: bool,
    /// A hole in the client's or server's bytes never filled.
    pub gap: bool,
    /// A per-direction buffer limit was reached.
    pub buffer_limit: bool,
    /// Overlapping TCP segments carried different bytes.
    pub overlap_conflict: bool,
    /// The bytes stopped parsing as TLS.
    pub malformed: bool,
    /// Some of its packets were cut by the capture's snap length.
    pub snaplen_cut: bool,
}

/// One TLS flow: who talked to whom, what each hello said, and how it ended.
///
/// ```
/// use helloscope_capture::{Analyzer, FlowConfig, Outcome, PacketSource};
/// use helloscope_tls::TlsVersion;
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");
/// let mut source = PacketSource::open_file(path)?;
/// let mut analyzer = Analyzer::new(FlowConfig::default());
/// let mut records = Vec::new();
/// analyzer.run(&mut source, &mut |r| records.push(r))?;
/// analyzer.finish(&mut |r| records.push(r));
/// // The first connection: `openssl s_client -tls1` to api.procore.com, accepted.
/// let r = records.iter().min_by_key(|r| r.first_seen).unwrap();
/// let hello = r.client_hello.as_ref().unwrap();
/// assert_eq!(hello.sni.as_deref(), Some("api.procore.com"));
/// assert_eq!(hello.version_offered_max, TlsVersion::Tls10);
/// assert_eq!(r.server_hello.as_ref().unwrap().version, TlsVersion::Tls10);
/// assert_eq!(r.outcome, Outcome::Established);
/// # Ok::<(), helloscope_capture::SourceError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowRecord {
    /// Time of the flow's first packet, since the Unix epoch.
    pub first_seen: Duration,
    /// Time of its last packet.
    pub last_seen: Duration,
    /// The client's address and port.
    pub client: SocketAddr,
    /// The server's address and port.
    pub server: SocketAddr,
    /// The first ClientHello.
    pub client_hello: Option<ClientHelloSummary>,
    /// The first ServerHello, updated with the negotiated values of the final one.
    pub server_hello: Option<ServerHelloSummary>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why the record was written.
    pub end: EndReason,
    /// Anomalies.
    pub flags: FlowFlags,
    /// Packets seen.
    pub packets: u64,
    /// The encapsulations the flow came through, outermost first (empty when none).
    pub tunnel: TunnelStack,
    /// What carried the handshake: TLS over TCP, QUIC, or DTLS.
    pub transport: Transport,
    /// The QUIC version of the connection's Initial packets (QUIC only).
    pub quic_version: Option<u32>,
}

impl FlowRecord {
    /// Where the record goes among those a table emits at once (an end-of-capture flush, an
    /// idle sweep, an eviction): first seen first, then by endpoints and tunnel, which tell
    /// apart any two flows one table holds at once. Without it they would come out in the
    /// order of the table's hash, whose key is random per run.
    fn emission_order(&self) -> (Duration, SocketAddr, SocketAddr, u64) {
        (
            self.first_seen,
            self.client,
            self.server,
            self.tunnel.identity(),
        )
    }
}

/// Emits the records one pass over a table gathered, in first-seen order (see
/// [`FlowRecord::emission_order`]), leaving `records` empty.
pub(crate) fn emit_in_order(records: &mut Vec<FlowRecord>, emit: &mut impl FnMut(FlowRecord)) {
    records.sort_unstable_by_key(FlowRecord::emission_order);
    for r in records.drain(..) {
        emit(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_lossy_decoding() {
        for b in [
            &b"api.procore.com"[..],
            b"",
            b"h2",
            "caf\u{e9}.example".as_bytes(),
            b"bad\xff\xfeutf8",
            b"\xc3",
        ] {
            assert_eq!(text(b), String::from_utf8_lossy(b));
        }
    }

    /// The one-walk summary says what the hello's own accessors say.
    #[test]
    fn summary_agrees_with_the_hello_accessors() {
        for record in [
            &include_bytes!("../../helloscope-tls/testdata/chromium-156-clienthello.bin")[..],
            include_bytes!("../../helloscope-tls/testdata/curl-7.88.1-clienthello.bin"),
            include_bytes!("../../helloscope-tls/testdata/gnutls-3.7.9-clienthello.bin"),
        ] {
            let h = helloscope_tls::parse_client_hello_record(record).unwrap();
            let s = ClientHelloSummary::from_hello(&h);
            let sni = h.server_name().map(text);
            assert_eq!(s.sni, sni);
            let alpn: Vec<String> = h.alpn().map(|n| n.map(text).collect()).unwrap_or_default();
            assert_eq!(&s.alpn[..], &alpn[..]);
            assert_eq!(&s.versions_offered[..], &h.offered_versions()[..]);
            assert_eq!(s.version_offered_max, h.highest_version());
            let types: Vec<u16> = h.extensions().map(|e| e.ext_type.0).collect();
            assert_eq!(s.extensions, types);
            assert_eq!(
                s.grease,
                h.cipher_suites().any(|c| c.is_grease())
                    || h.extensions().any(|e| e.ext_type.is_grease())
            );
            assert_eq!(s.cipher_count, h.cipher_suites().count());
        }
    }
}
