//! Flows: the per-connection state machine, and the bounded table that holds them.

use hashbrown::HashTable;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use helloscope_tls::{AlertLevel, ClientHello, HandshakeType, ServerHello, TlsVersion};

use crate::decode::{TcpSegment, TunnelStack};
use crate::fingerprint_cache::FingerprintCache;
use crate::finished::FinishedFlows;
use crate::memory::{Bound, Bounds, Shed, ShedNotice};
use crate::reassembly::{Seen, StreamReassembler};
use crate::record::{
    ClientHelloSummary, EndReason, FlowFlags, FlowRecord, Outcome, ServerHelloSummary, Side,
};
use crate::stats::Stats;
use crate::tls_stream::{
    client_hello_evidence, looks_like_server_hello, Evidence, TlsEvent, TlsStream,
};

/// Bounds and timeouts of the flow table. Start from the defaults and set what differs
/// (fields may be added, so the struct is not built field by field outside this crate):
///
/// ```
/// use helloscope_capture::{Analyzer, FlowConfig};
/// let mut cfg = FlowConfig::default();
/// cfg.max_flows = 10_000;
/// cfg.idle_timeout = std::time::Duration::from_secs(30);
/// let analyzer = Analyzer::new(cfg);
/// assert_eq!(analyzer.config().max_flows, 10_000);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FlowConfig {
    /// Most flows held at once; beyond it the oldest are evicted (and still reported).
    pub max_flows: usize,
    /// A flow with no packet for this long (in packet time) is evicted and reported.
    pub idle_timeout: Duration,
    /// Most bytes held per direction of a flow: out-of-order segments, and a handshake
    /// message being reassembled.
    pub max_buffer_per_direction: usize,
    /// Most bytes held by all flows together. A packet that would take the table past it has
    /// its flow's buffers dropped instead (the flow is flagged `buffer_limit`), so many flows
    /// each holding their share cannot add up to more than this.
    pub max_buffer_total: usize,
    /// Distinct ClientHellos (and ServerHellos) whose fingerprints are kept, so that the
    /// next connection of the same client build finds them instead of hashing again; 0
    /// computes every one. About 1 KB each, and never more than 12 MiB in all whatever the
    /// traffic (three tables of at most 4 MiB, each emptied when full).
    pub fingerprint_cache: usize,
    /// Bounds of IP reassembly (bytes and datagrams held, timeout). Every `--threads` worker
    /// sees every fragment and holds them all, so these are per worker.
    pub defrag: crate::defrag::DefragConfig,
    /// Most bytes held by everything of this analyzer that grows with traffic (0: no such
    /// bound), divided among the flow table, the buffers, the UDP exchanges, the IP fragments
    /// and the fingerprint cache (see [`crate::memory`]): the options above that are larger
    /// than their share are held to it.
    pub max_memory: usize,
    /// Told the first time something is shed to stay under `max_memory`.
    pub notice: crate::memory::ShedNotice,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1 << 20,
            idle_timeout: Duration::from_secs(120),
            max_buffer_per_direction: 64 * 1024,
            max_buffer_total: 256 << 20,
            fingerprint_cache: 4096,
            defrag: crate::defrag::DefragConfig::default(),
            max_memory: 256 << 20,
            notice: crate::memory::ShedNotice::default(),
        }
    }
}

/// A connection's identity, the same for both directions: the two endpoints in a fixed order.
/// Addresses as integers (IPv4 mapped into IPv6), so that ordering, hashing and comparing a
/// key are a few register operations rather than byte-array walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    lo: u128,
    hi: u128,
    /// The port of `lo` in the upper half, that of `hi` in the lower.
    ports: u32,
    /// The tunnel stack's identity (0 for none): one connection seen on two mirrored paths
    /// is two flows.
    tunnel: u64,
}

fn addr128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) | 0xffff << 32,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl std::hash::Hash for FlowKey {
    /// The ports and the tunnel identity in one word: one round of the hasher fewer per
    /// packet than a word each, and for plain traffic (identity 0) the ports alone, as
    /// before tunnels were followed. Equal keys still hash alike; the hasher is keyed per
    /// run, so folding cannot be aimed at.
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo);
        state.write_u128(self.hi);
        state.write_u64(u64::from(self.ports) ^ self.tunnel);
    }
}

impl FlowKey {
    #[inline(always)]
    pub(crate) fn of(seg: &TcpSegment<'_>) -> Self {
        let a = (addr128(seg.src), seg.src_port);
        let b = (addr128(seg.dst), seg.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo: lo.0,
            hi: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
            tunnel: seg.tunnel.identity(),
        }
    }
}

/// One direction of a flow.
#[derive(Debug)]
struct Direction {
    reasm: StreamReassembler,
    tls: TlsStream,
    bytes: u64,
}

/// What the TLS events of both directions established.
#[derive(Debug, Default)]
struct HandshakeState {
    client_hello: Option<ClientHelloSummary>,
    server_hello: Option<ServerHelloSummary>,
    final_server_hello: bool,
    ccs: [bool; 2],
    app_data: [bool; 2],
    alert: Option<(AlertLevel, helloscope_tls::AlertDescription, Side)>,
    established: bool,
    malformed_hello: bool,
    /// A later copy of the ClientHello's bytes disagreed with the one read.
    hello_conflict: bool,
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl HandshakeState {
    fn on_event(&mut self, side: Side, ev: TlsEvent<'_>, fp: &mut FingerprintCache) {
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
    fn on_damaged_client_hello(&mut self, body: &[u8]) {
        self.malformed_hello = true;
        if let Some(h) = ClientHello::parse_partial(body) {
            self.client_hello = Some(ClientHelloSummary::from_damaged_hello(&h));
        }
    }

    /// The outcome when something decisive happened.
    fn decided(&self) -> Option<Outcome> {
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

/// A flow whose handshake is being followed.
#[derive(Debug)]
pub(crate) struct Flow {
    client: SocketAddr,
    server: SocketAddr,
    /// Packet times, for the record.
    first_seen: Duration,
    last_seen: Duration,
    /// The table's clock at its latest packet: what idleness is judged by.
    seen_at: Duration,
    packets: u64,
    syn_seen: bool,
    /// A ClientHello was seen at the start of a client segment: this is a TLS flow.
    tls: bool,
    /// Client payload segments still to look at for a ClientHello before giving up.
    probe_budget: u8,
    dirs: [Direction; 2],
    hs: HandshakeState,
    first_fin: Option<Side>,
    /// Where each side's FIN lies in its sequence space, once seen.
    fin_at: [Option<u32>; 2],
    rst: Option<Side>,
    snaplen_cut: bool,
    /// Its buffers were dropped to keep the table under `max_buffer_total`.
    shed_by_budget: bool,
    /// The encapsulations it came through.
    tunnel: TunnelStack,
    /// The client's bytes from the start of what may be a ClientHello, while too few to
    /// judge: at most four records of one byte (24 bytes) or an SSLv2 header (11).
    hello_prefix: Vec<u8>,
    /// While the flow is not known to be TLS, a short run of client bytes the probe stepped
    /// over; then, the first bytes of the ClientHello the probe found.
    held: Held,
    /// Stream offset of the ClientHello's first byte (`u32::MAX` until one is found), and a
    /// digest of its first [`HEAD_LEN`] bytes (0 when fewer came at once): what a later copy
    /// of them is compared with, to flag `overlap_conflict`. (Not the bytes themselves: with
    /// them a flow would outgrow the allocator's per-thread cache, 1 032 bytes.)
    hello_offset: u32,
    hello_digest: u32,
}

/// What a flow holds of the client's first bytes.
#[derive(Debug, Default)]
enum Held {
    #[default]
    Nothing,
    /// The first bytes of the ClientHello the probe found, taken off the reassembler: the
    /// TLS reader gets them before anything else.
    Found(Vec<u8>),
    /// The latest short run of bytes the probe stepped over (a keep-alive probe's byte,
    /// middlebox junk): another copy of them that starts a ClientHello is read instead,
    /// unless the server acknowledged this one.
    Stray(Stray),
}

/// Most bytes of a stepped-over run kept as a [`Stray`]: longer runs are the dialogue of a
/// protocol before TLS (STARTTLS, CONNECT), not a stray segment. (Ten fit beside the rest of
/// [`Held`] in the space of a `Vec`.)
const STRAY_MAX: usize = 10;

/// A short run of client bytes the probe stepped over.
#[derive(Clone, Copy, Debug)]
struct Stray {
    /// Sequence number of `bytes[0]`.
    seq: u32,
    len: u8,
    /// The server acknowledged exactly its end: it is what the server received.
    acked: bool,
    bytes: [u8; STRAY_MAX],
}

impl Stray {
    fn end_seq(&self) -> u32 {
        self.seq.wrapping_add(u32::from(self.len))
    }
}

/// Bytes of the start of a ClientHello kept as a digest: the record and handshake headers,
/// `legacy_version`, the random and the session ID's first bytes.
const HEAD_LEN: usize = 48;

/// A digest of the first [`HEAD_LEN`] bytes of `b`, never 0; 0 when `b` is shorter.
fn head_digest(b: &[u8]) -> u32 {
    let Some(head) = b.get(..HEAD_LEN) else {
        return 0;
    };
    // Words folded by rotation, mixed once: different digests mean different bytes, which
    // is all the flag needs (a copy made to collide only keeps the flag off; the first copy
    // is what is read either way).
    let mut h = 0u64;
    for (k, w) in head.chunks_exact(8).enumerate() {
        h ^= u64::from_le_bytes(w.try_into().unwrap_or_default()).rotate_left(k as u32 * 11);
    }
    let h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as u32 | 1
}

/// True when two copies (`a` at stream offset `a_at`, `b` at `b_at`) differ where they overlap.
fn disagree(a_at: u64, a: &[u8], b_at: u64, b: &[u8]) -> bool {
    let start = a_at.max(b_at);
    let end = (a_at + a.len() as u64).min(b_at + b.len() as u64);
    start < end
        && a[(start - a_at) as usize..(end - a_at) as usize]
            != b[(start - b_at) as usize..(end - b_at) as usize]
}

impl Flow {
    #[inline(always)]
    fn new(
        client: SocketAddr,
        server: SocketAddr,
        ts: Duration,
        at: Duration,
        cfg: &FlowConfig,
    ) -> Self {
        let dir = || Direction {
            reasm: StreamReassembler::default(),
            tls: TlsStream::new(cfg.max_buffer_per_direction),
            bytes: 0,
        };
        Flow {
            client,
            server,
            first_seen: ts,
            last_seen: ts,
            seen_at: at,
            packets: 0,
            syn_seen: false,
            tls: false,
            probe_budget: PROBE_SEGMENTS,
            dirs: [dir(), dir()],
            hs: HandshakeState::default(),
            first_fin: None,
            fin_at: [None; 2],
            rst: None,
            snaplen_cut: false,
            shed_by_budget: false,
            tunnel: TunnelStack::new(),
            hello_prefix: Vec::new(),
            held: Held::Nothing,
            hello_offset: u32::MAX,
            hello_digest: 0,
        }
    }

    /// [`Flow::new`] on the heap. The allocation comes first and the flow is written into
    /// it: `Box::new(Flow::new(..))` built the (large) flow on the stack and then copied it.
    #[inline(always)]
    fn boxed(
        client: SocketAddr,
        server: SocketAddr,
        ts: Duration,
        at: Duration,
        cfg: &FlowConfig,
    ) -> Box<Self> {
        Box::write(Box::new_uninit(), Flow::new(client, server, ts, at, cfg))
    }

    /// Looks at a payload segment of a flow not yet known to be TLS. TLS starts with a
    /// ClientHello at the start of the client's next bytes; anything before it (a STARTTLS
    /// dialogue, a SOCKS or HTTP CONNECT request) is stepped over, for a bounded number of
    /// segments. A ClientHello is only believed once its headers have been checked field by
    /// field: a first segment too short for that waits for the next ones (in stream order,
    /// whatever order they come in).
    fn probe(&mut self, seg: &TcpSegment<'_>, cfg: &FlowConfig) -> Probe {
        let side = self.side_of(seg);
        let i = idx(side);
        let seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let cap = cfg.max_buffer_per_direction;
        let reasm = &mut self.dirs[i].reasm;
        if reasm.is_ahead(seq) {
            // Held until the hole fills; read then, from wherever the stream is.
            reasm.on_segment(seq, seg.payload, cap, &mut |_| {});
            return Probe::NotYet;
        }
        if side == Side::Client {
            if let Held::Stray(stray) = self.held {
                self.reread_stray(stray, seq, seg.payload);
            }
            let reasm = &mut self.dirs[i].reasm;
            if self.hello_prefix.is_empty()
                && reasm.is_next(seq)
                && !reasm.has_hole()
                && client_hello_evidence(seg.payload) == Evidence::ClientHello
            {
                // The usual case, a hello at the start of the next segment: read where it
                // lies, without a copy.
                let at = reasm.offset();
                self.note_hello(at, seg.payload);
                self.held = Held::Nothing;
                self.tls = true;
                return Probe::Tls;
            }
            let mut bytes = std::mem::take(&mut self.hello_prefix);
            let before = bytes.len();
            reasm.on_segment(seq, seg.payload, cap, &mut |b| bytes.extend_from_slice(b));
            if bytes.len() > before {
                let start = reasm.offset() - bytes.len() as u64;
                match client_hello_evidence(&bytes) {
                    Evidence::ClientHello => {
                        self.note_hello(start, &bytes);
                        self.tls = true;
                        self.held = Held::Found(bytes);
                        return Probe::Tls;
                    }
                    Evidence::NeedMore => self.hello_prefix = bytes,
                    // Stepped over; a short run is kept, in case another copy of it is the
                    // start of a hello.
                    Evidence::NotTls => {
                        self.held = match reasm.next_seq() {
                            Some(end) if bytes.len() <= STRAY_MAX => {
                                let mut kept = [0; STRAY_MAX];
                                kept[..bytes.len()].copy_from_slice(&bytes);
                                Held::Stray(Stray {
                                    seq: end.wrapping_sub(bytes.len() as u32),
                                    len: bytes.len() as u8,
                                    acked: false,
                                    bytes: kept,
                                })
                            }
                            _ => Held::Nothing,
                        }
                    }
                }
            } else {
                self.hello_prefix = bytes;
            }
            return self.spend_probe();
        }
        if matches!(self.held, Held::Stray(_)) {
            self.note_server_ack(seg);
        }
        let server = &self.dirs[i].reasm;
        let at_start = server.offset() == 0 && server.is_next(seq);
        if at_start && looks_like_server_hello(seg.payload) && !self.sent_anything(Side::Client) {
            // Only the server's side is captured (or the client's is still to come): a
            // stream that starts with a ServerHello is TLS, and what the server chose is
            // reported.
            self.tls = true;
            return Probe::Tls;
        }
        // Step over the server's bytes without reading them.
        self.dirs[i]
            .reasm
            .on_segment(seq, seg.payload, cap, &mut |_| {});
        self.spend_probe()
    }

    /// Where the ClientHello starts (stream offset `at`, first bytes `b`).
    fn note_hello(&mut self, at: u64, b: &[u8]) {
        self.hello_offset = u32::try_from(at).unwrap_or(u32::MAX);
        self.hello_digest = head_digest(b);
    }

    /// A server segment acknowledging exactly the end of the client's stray bytes: the
    /// server received them, so they are the copy to keep.
    #[cold]
    #[inline(never)]
    fn note_server_ack(&mut self, seg: &TcpSegment<'_>) {
        if self.side_of(seg) != Side::Server {
            return;
        }
        if let Held::Stray(stray) = &mut self.held {
            if seg.ack && seg.ack_number == stray.end_seq() {
                stray.acked = true;
            }
        }
    }

    /// A client segment that may be another copy of the stray bytes. When the two copies
    /// disagree, the one the server acknowledged is kept; failing that, the one that starts
    /// a ClientHello (the reassembler goes back to read it); failing that, the first.
    #[cold]
    #[inline(never)]
    fn reread_stray(&mut self, stray: Stray, seq: u32, payload: &[u8]) {
        let reasm = &mut self.dirs[0].reasm;
        let offset = |seq| reasm.offset_of(seq).and_then(|o| u64::try_from(o).ok());
        let (Some(at), Some(stray_at)) = (offset(seq), offset(stray.seq)) else {
            return;
        };
        let kept = &stray.bytes[..usize::from(stray.len)];
        if !disagree(at, payload, stray_at, kept) {
            return;
        }
        reasm.overlap_conflict = true;
        if stray.acked {
            return;
        }
        // This copy's reading from where the two overlap.
        let from = at.max(stray_at);
        let Some(rest) = payload.get((from - at) as usize..) else {
            return;
        };
        if client_hello_evidence(rest) == Evidence::ClientHello && reasm.rewind(from) {
            self.hello_prefix.clear();
            self.held = Held::Nothing;
        }
    }

    /// One more in-order segment looked at before the flow is TLS.
    fn spend_probe(&mut self) -> Probe {
        if self.probe_budget == 0 {
            return Probe::NotTls;
        }
        self.probe_budget -= 1;
        Probe::NotYet
    }

    /// Bytes this flow holds in buffers.
    fn buffered(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.reasm.pending_bytes() + d.tls.buffered())
            .sum::<usize>()
            + self.hello_prefix.len()
    }

    /// Drops every buffer of this flow (memory pressure on the whole table).
    fn shed(&mut self) {
        for d in &mut self.dirs {
            d.reasm.shed();
            d.tls.shed();
        }
        self.shed_by_budget = true;
    }

    fn side_of(&self, seg: &TcpSegment<'_>) -> Side {
        if seg.src == self.client.ip() && seg.src_port == self.client.port() {
            Side::Client
        } else {
            Side::Server
        }
    }

    fn flags(&self) -> FlowFlags {
        FlowFlags {
            midstream: !self.syn_seen,
            gap: self.dirs.iter().any(|d| d.reasm.has_hole()),
            buffer_limit: self.shed_by_budget
                || self.dirs.iter().any(|d| {
                    d.reasm.overflowed
                        || matches!(d.tls.error, Some(helloscope_tls::Error::TooLong { .. }))
                }),
            overlap_conflict: self.hs.hello_conflict
                || self.dirs.iter().any(|d| d.reasm.overlap_conflict),
            malformed: self.hs.malformed_hello || self.dirs.iter().any(|d| d.tls.is_broken()),
            snaplen_cut: self.snaplen_cut,
        }
    }

    /// True when the capture holds something `side` sent besides pure ACKs: a SYN, data, a
    /// FIN or a RST. (Read off the flow's state, so that no packet pays for it.)
    fn sent_anything(&self, side: Side) -> bool {
        let i = idx(side);
        self.dirs[i].reasm.next_seq().is_some()
            || self.fin_at[i].is_some()
            || self.rst == Some(side)
            || (side == Side::Client && !self.hello_prefix.is_empty())
    }

    /// The outcome to report: one side not captured at all says so, unless an alert (which
    /// names its sender) decided the flow.
    #[inline]
    fn reported_outcome(&self, outcome: Outcome) -> Outcome {
        if self.dirs.iter().all(|d| d.reasm.next_seq().is_some()) {
            // The usual case: both sides sent a SYN or data.
            return outcome;
        }
        self.one_sided_outcome(outcome)
    }

    #[cold]
    #[inline(never)]
    fn one_sided_outcome(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Alert { .. } => outcome,
            _ if !self.sent_anything(Side::Client) => Outcome::ClientUnseen,
            _ if !self.sent_anything(Side::Server) => Outcome::ServerUnseen,
            _ => outcome,
        }
    }

    /// The connection ended inside its ClientHello: what came of it is reported. (Not when the
    /// capture lost the rest: a hole, bytes cut by the snap length.)
    #[cold]
    #[inline(never)]
    fn read_partial_client_hello(&mut self) {
        if self.dirs[0].reasm.has_hole() || self.snaplen_cut {
            return;
        }
        if let Some(body) = self.dirs[0].tls.partial_client_hello() {
            let body = body.to_vec();
            self.hs.on_damaged_client_hello(&body);
        }
    }

    /// The flow's record. The summaries are moved out: a flow is reported once, then dropped.
    pub(crate) fn record(&mut self, outcome: Outcome, end: EndReason) -> FlowRecord {
        let outcome = self.reported_outcome(outcome);
        if self.hs.client_hello.is_none() {
            self.read_partial_client_hello();
        }
        FlowRecord {
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            client: self.client,
            server: self.server,
            client_hello: self.hs.client_hello.take(),
            server_hello: self.hs.server_hello.take(),
            outcome,
            end,
            flags: self.flags(),
            packets: self.packets,
            tunnel: self.tunnel,
            transport: helloscope_tls::Transport::Tcp,
            quic_version: None,
        }
    }

    /// The outcome of a flow that ends without a decisive event.
    pub(crate) fn undecided_outcome(&self) -> Outcome {
        if let Some(o) = self.hs.decided() {
            return o;
        }
        match (&self.hs.client_hello, self.rst, self.first_fin) {
            (None, _, _) => return Outcome::Incomplete,
            (Some(_), Some(from), _) => return Outcome::Reset { from },
            (Some(_), None, Some(from)) => return Outcome::Closed { from },
            _ => {}
        }
        match (&self.hs.client_hello, &self.hs.server_hello) {
            (None, _) => Outcome::Incomplete,
            (Some(_), Some(_)) => Outcome::Negotiated,
            (Some(_), None) if self.dirs[1].bytes == 0 => Outcome::NoResponse,
            (Some(_), None) => Outcome::Incomplete,
        }
    }

    /// Takes one segment; returns the outcome when the flow is decided by it.
    fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        ts: Duration,
        at: Duration,
        cfg: &FlowConfig,
        fp: &mut FingerprintCache,
    ) -> Option<Outcome> {
        self.packets += 1;
        self.snaplen_cut |= seg.truncated;
        if ts > self.last_seen {
            self.last_seen = ts;
        }
        if at > self.seen_at {
            self.seen_at = at;
        }
        let side = self.side_of(seg);
        let i = idx(side);
        if seg.syn {
            self.syn_seen = true;
            self.dirs[i].reasm.on_syn(seg.seq);
        }
        if !seg.payload.is_empty() && self.tls {
            let Flow {
                dirs,
                hs,
                held,
                hello_offset,
                hello_digest,
                ..
            } = self;
            let Direction { reasm, tls, bytes } = &mut dirs[i];
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let mut deliver = |s: Seen<'_>| match s {
                Seen::Fresh(b) => {
                    *bytes += b.len() as u64;
                    tls.feed(b, &mut |ev| hs.on_event(side, ev, fp));
                }
                Seen::Again { offset, bytes } if side == Side::Client => {
                    let hello = (u64::from(*hello_offset), *hello_digest);
                    hs.hello_conflict |= again_disagrees(hello, hs, offset, bytes);
                }
                Seen::Again { .. } => {}
            };
            match std::mem::take(held) {
                // This segment's bytes are among them, already taken off the reassembler.
                Held::Found(found) => deliver(Seen::Fresh(&found)),
                _ => reasm.on_segment_seen(
                    seq,
                    seg.payload,
                    cfg.max_buffer_per_direction,
                    &mut deliver,
                ),
            }
            // Stop buffering handshake bytes once the needed hello is in.
            if side == Side::Client && hs.client_hello.is_some() && tls.want_handshake {
                tls.stop_handshake();
            }
            if side == Side::Server && hs.final_server_hello && tls.want_handshake {
                tls.stop_handshake();
            }
        }
        if let Some(o) = self.hs.decided() {
            return Some(o);
        }
        // The connection ends. Without a readable ClientHello the capture cannot say how
        // the handshake went.
        if seg.rst {
            self.rst = Some(side);
            if self.hs.client_hello.is_none() {
                return Some(Outcome::Incomplete);
            }
            return Some(Outcome::Reset { from: side });
        }
        if seg.fin || self.first_fin.is_some() {
            return self.on_closing(seg, i, side);
        }
        None
    }

    /// A FIN, or any segment once one was seen: out of line, as most segments are neither.
    #[inline(never)]
    fn on_closing(&mut self, seg: &TcpSegment<'_>, i: usize, side: Side) -> Option<Outcome> {
        if seg.fin && self.fin_at[i].is_none() {
            // The FIN's own sequence number: everything this side sent comes before it.
            let syn = u32::from(seg.syn);
            self.fin_at[i] = Some(seg.seq.wrapping_add(syn + seg.payload.len() as u32));
            self.first_fin.get_or_insert(side);
        }
        self.closing()
    }

    /// The outcome of a connection being closed, once nothing the record needs can still
    /// come: a side's FIN may arrive before its last data (reordered), and a client that
    /// closed its side still receives, so a ServerHello after the client's FIN is read.
    fn closing(&self) -> Option<Outcome> {
        let from = self.first_fin?;
        let (client_hello, server_hello) = (&self.hs.client_hello, &self.hs.server_hello);
        if client_hello.is_some() && server_hello.is_some() {
            return Some(Outcome::Closed { from });
        }
        // A hello is missing: it may still be in data a FIN overtook.
        for (d, fin) in self.dirs.iter().zip(self.fin_at) {
            if fin.is_some_and(|at| d.reasm.is_ahead(at) || d.reasm.has_hole()) {
                return None;
            }
        }
        match client_hello {
            // Without a readable ClientHello the capture cannot say how the handshake went.
            None => Some(Outcome::Incomplete),
            // The server may still answer a half-closed client.
            Some(_) if self.fin_at[1].is_none() && !self.dirs[1].tls.is_broken() => None,
            Some(_) => Some(Outcome::Closed { from }),
        }
    }
}

/// True when a client copy of bytes already delivered (`bytes` at stream offset `offset`)
/// disagrees with what was read there: the ClientHello's first [`HEAD_LEN`] bytes (by their
/// digest; a shorter copy by the bytes every TLS ClientHello starts with), and, for a copy of
/// the whole hello record, every field the record reports. Other bytes (a key share's) are
/// not kept to compare. The copy read first is kept: it made a parseable hello.
#[cold]
#[inline(never)]
fn again_disagrees(
    (hello_offset, digest): (u64, u32),
    hs: &HandshakeState,
    offset: u64,
    bytes: &[u8],
) -> bool {
    let Some(read) = &hs.client_hello else {
        return false;
    };
    if offset != hello_offset {
        // A copy starting elsewhere: the record header's first bytes are known.
        let tls = [0x16, 0x03];
        return !read.sslv2_format && disagree(offset, bytes, hello_offset, &tls);
    }
    if digest != 0 && bytes.len() >= HEAD_LEN {
        if head_digest(bytes) != digest {
            return true;
        }
    } else if !read.sslv2_format && disagree(offset, bytes, hello_offset, &[0x16, 0x03]) {
        return true;
    }
    let Some(len) = bytes
        .get(3..5)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return false;
    };
    if bytes[0] != 0x16 || bytes.len() < RECORD_HEADER + len {
        return false;
    }
    match helloscope_tls::parse_client_hello_record(&bytes[..RECORD_HEADER + len]) {
        Ok(h) => {
            let summary = if h.is_damaged() {
                ClientHelloSummary::from_damaged_hello(&h)
            } else {
                ClientHelloSummary::from_hello(&h)
            };
            summary != *read
        }
        // The hello continues in another record: nothing more to compare.
        Err(helloscope_tls::Error::Incomplete { .. }) => false,
        // This copy does not parse: it disagrees with a first one that did.
        Err(_) => !hs.malformed_hello,
    }
}

/// Bytes of a TLS record header.
const RECORD_HEADER: usize = helloscope_tls::RECORD_HEADER_LEN;

/// A connection that has sent no payload yet (SYN, SYN-ACK, pure ACKs): what a full [`Flow`]
/// would have learnt from those segments, in a few dozen bytes. A SYN flood, a port scan or
/// connections that never send data then cost this, not a flow with two reassemblers and
/// TLS readers; the first payload byte (or a FIN, or anything unusual) turns it into the
/// [`Flow`] it would have been, and that flow goes on as if it had been one all along.
#[derive(Clone, Copy, Debug)]
struct HalfOpen {
    /// The keyed hash of its [`FlowKey`] (random per run, so traffic cannot aim for a
    /// collision; the finished table trusts the same tag).
    tag: u64,
    /// Packet times, in nanoseconds, for the record of the flow it may become.
    first_seen: u64,
    last_seen: u64,
    /// The table's clock at its latest packet, in nanoseconds.
    seen_at: u64,
    /// Each side's SYN sequence number, when `SYN_OF` says it was seen.
    syn: [u32; 2],
    packets: u32,
    bits: u8,
}

/// The client is the lower endpoint of the key.
const CLIENT_IS_LO: u8 = 1;
/// A SYN was seen from the client (bit 1) or the server (bit 2).
const SYN_OF: [u8; 2] = [2, 4];
/// A segment was cut short by the snapshot length.
const SNAPLEN_CUT: u8 = 8;

/// A time in nanoseconds, when it fits (it does until the year 2554).
fn nanos(d: Duration) -> Option<u64> {
    u64::try_from(d.as_nanos()).ok()
}

/// The sending endpoint is the lower one of the key ([`FlowKey::of`]'s order).
#[inline]
fn src_is_lo(seg: &TcpSegment<'_>) -> bool {
    (addr128(seg.src), seg.src_port) <= (addr128(seg.dst), seg.dst_port)
}

impl HalfOpen {
    /// Starts one from a SYN (or a SYN-ACK whose SYN was missed) without payload; `None` when
    /// the segment needs a full flow.
    fn of_syn(tag: u64, seg: &TcpSegment<'_>, ts: Duration, at: Duration) -> Option<Self> {
        let both_ends_same = seg.src == seg.dst && seg.src_port == seg.dst_port;
        if !seg.syn || !seg.payload.is_empty() || seg.rst || seg.fin || both_ends_same {
            return None;
        }
        let (t, a) = (nanos(ts)?, nanos(at)?);
        // The SYN's sender is the client, a SYN-ACK's receiver.
        let client_is_lo = src_is_lo(seg) != seg.ack;
        let mut h = HalfOpen {
            tag,
            first_seen: t,
            last_seen: t,
            seen_at: a,
            syn: [0; 2],
            packets: 0,
            bits: if client_is_lo { CLIENT_IS_LO } else { 0 },
        };
        h.on_segment(seg, ts, at).then_some(h)
    }

    fn side_of(&self, seg: &TcpSegment<'_>) -> Side {
        if src_is_lo(seg) == (self.bits & CLIENT_IS_LO != 0) {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// Takes a segment without payload, FIN or RST, as [`Flow::on_segment`] would; false
    /// (and nothing taken) when it needs a full flow: a SYN with another sequence number
    /// than the side's first one, or a time that does not fit.
    fn on_segment(&mut self, seg: &TcpSegment<'_>, ts: Duration, at: Duration) -> bool {
        let (Some(t), Some(a)) = (nanos(ts), nanos(at)) else {
            return false;
        };
        let i = idx(self.side_of(seg));
        if seg.syn {
            if self.bits & SYN_OF[i] != 0 && self.syn[i] != seg.seq {
                return false;
            }
            self.syn[i] = seg.seq;
            self.bits |= SYN_OF[i];
        }
        self.packets = self.packets.saturating_add(1);
        if seg.truncated {
            self.bits |= SNAPLEN_CUT;
        }
        self.last_seen = self.last_seen.max(t);
        self.seen_at = self.seen_at.max(a);
        true
    }

    /// The full flow it would have been, for `seg`, a later segment of the connection.
    fn into_flow(self, seg: &TcpSegment<'_>, cfg: &FlowConfig) -> Box<Flow> {
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let (client, server) = match self.side_of(seg) {
            Side::Client => (src, dst),
            Side::Server => (dst, src),
        };
        let mut f = Flow::boxed(
            client,
            server,
            Duration::from_nanos(self.first_seen),
            Duration::from_nanos(self.seen_at),
            cfg,
        );
        f.last_seen = Duration::from_nanos(self.last_seen);
        f.packets = u64::from(self.packets);
        f.snaplen_cut = self.bits & SNAPLEN_CUT != 0;
        f.tunnel = seg.tunnel;
        for ((dir, seen), isn) in f.dirs.iter_mut().zip(SYN_OF).zip(self.syn) {
            if self.bits & seen != 0 {
                f.syn_seen = true;
                dir.reasm.on_syn(isn);
            }
        }
        f
    }
}

/// Payload segments of a flow looked at for a ClientHello (after STARTTLS, SOCKS, HTTP
/// CONNECT …) before the flow is judged not to be TLS.
const PROBE_SEGMENTS: u8 = 16;

/// What a look at a not-yet-TLS flow's segment found.
enum Probe {
    /// A ClientHello starts here.
    Tls,
    /// Not yet; keep looking.
    NotYet,
    /// Looked long enough: not TLS.
    NotTls,
}

/// Reports a flow that ends without a decisive event (timeout, eviction, end of capture);
/// flows never found to be TLS are only counted.
fn report_end(f: &mut Flow, end: EndReason, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
    if f.tls {
        let o = f.undecided_outcome();
        stats.note_flow_end(f.record(o, end), emit);
    } else {
        note_not_tls_end(f, stats);
    }
}

/// Counts a flow that ends without having been found to be TLS: one that carried data
/// (a protocol whose first bytes are not a ClientHello) apart from one that carried none.
fn note_not_tls_end(f: &Flow, stats: &mut Stats) {
    if f.probe_budget < PROBE_SEGMENTS || !f.hello_prefix.is_empty() {
        stats.flows_not_tls += 1;
    } else {
        stats.flows_without_payload += 1;
    }
}

/// A segment of a followed flow: probes a flow not yet known to be TLS, feeds the segment,
/// reports the flow when the segment decides it, and keeps the table's count of buffered
/// bytes. True when the flow ended (the caller forgets it and marks it done).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn take_segment(
    flow: &mut Flow,
    seg: &TcpSegment<'_>,
    (ts, at): (Duration, Duration),
    cfg: &FlowConfig,
    bounds: &Bounds,
    fingerprints: &mut FingerprintCache,
    buffered: &mut usize,
    stats: &mut Stats,
    emit: &mut impl FnMut(FlowRecord),
) -> bool {
    let before = flow.buffered();
    if !flow.tls {
        if !seg.payload.is_empty() {
            match flow.probe(seg, cfg) {
                Probe::Tls => stats.flows_tls += 1,
                Probe::NotYet => {}
                Probe::NotTls => {
                    stats.flows_not_tls += 1;
                    *buffered -= before;
                    return true;
                }
            }
        } else if matches!(flow.held, Held::Stray(_)) {
            flow.note_server_ack(seg);
        }
    }
    if let Some(outcome) = flow.on_segment(seg, ts, at, cfg, fingerprints) {
        if flow.tls {
            stats.note_flow_end(flow.record(outcome, EndReason::Decided), emit);
        } else {
            note_not_tls_end(flow, stats);
        }
        *buffered -= before;
        return true;
    }
    account(buffered, &bounds.buffers, before, flow, stats, &cfg.notice);
    false
}

/// Takes a flow's new buffer size into the table's `total`; over `budget`, the flow gives up
/// its buffers instead.
#[inline(always)]
fn account(
    total: &mut usize,
    budget: &Bound,
    before: usize,
    flow: &mut Flow,
    stats: &mut Stats,
    notice: &ShedNotice,
) {
    let after = flow.buffered();
    *total = *total - before + after;
    if *total > budget.max {
        shed_buffers(total, budget, after, flow, stats, notice);
    }
}

#[cold]
#[inline(never)]
fn shed_buffers(
    total: &mut usize,
    budget: &Bound,
    after: usize,
    flow: &mut Flow,
    stats: &mut Stats,
    notice: &ShedNotice,
) {
    flow.shed();
    *total -= after;
    stats.buffers_shed += 1;
    if budget.by_memory {
        stats.shed_memory(Shed::Buffers, 1, notice);
    }
}

/// The slot of a followed flow in its table (its key, its box and the control byte), and
/// what the box holds beyond its buffers (which are counted apart): the flow, the
/// allocator's rounding, and the few small vectors a flow allocates before it buffers.
pub(crate) fn active_entry_cost() -> (usize, usize) {
    (
        std::mem::size_of::<(FlowKey, Box<Flow>)>() + 1,
        std::mem::size_of::<Flow>() + 16 + 64,
    )
}

/// The slot of a connection that sent nothing yet, with its control byte.
pub(crate) fn half_open_slot() -> usize {
    std::mem::size_of::<HalfOpen>() + 1
}

/// The bounded flow table: flows being followed, keyed by their endpoints, and finished flows,
/// kept as a tag of the keyed hash of their endpoints (see [`crate::finished`]; the key is
/// random per run, so traffic cannot aim for a collision).
pub(crate) struct FlowTable {
    pub(crate) cfg: FlowConfig,
    hasher: ahash::RandomState,
    /// By the same keyed hash as `done`: a packet's key is hashed once for both tables.
    active: HashTable<(FlowKey, Box<Flow>)>,
    /// Connections that have sent no payload yet, by the same hash (see [`HalfOpen`]).
    half_open: HashTable<HalfOpen>,
    /// Most entries of `half_open`, within `max_flows`.
    half_open_cap: usize,
    /// The bounds the memory budget sets (with the options they are clamped with).
    bounds: Bounds,
    fingerprints: FingerprintCache,
    done: FinishedFlows,
    /// Bytes held in the buffers of all followed flows.
    buffered: usize,
    /// The table's clock: the latest packet time that was not an outlier.
    now: Duration,
    /// Seconds a packet's time may lie from the clock: the idle timeout and [`CLOCK_SLACK`].
    slack_secs: u64,
    /// The seconds within the slack of the clock, inclusive; empty (`lo > hi`) until the
    /// first packet sets the clock.
    clock_lo: u64,
    clock_hi: u64,
    /// Packets far ahead of the clock that agree with one another: a time and how many in a
    /// row. Enough of them move the clock there (the capture really did jump).
    jump: Option<(Duration, u32)>,
    next_sweep: Duration,
}

/// Most connections that sent nothing yet held at once, of `max_flows`: 7/32 of it (229 376
/// of the default 2^20). Their table then grows to at most twice as many slots (2^19 of 48
/// bytes, 25 MiB), never more: the slots of evicted entries stay marked deleted, and
/// hashbrown reclaims them by rehashing in place only while the table is at most half full;
/// above that it would double (and the allocator keep both), however many slots are free.
pub(crate) fn half_open_cap(max_flows: usize) -> usize {
    (max_flows / 32 * 7).max(1)
}

/// How far a packet's time may lie from the table's clock, beyond the idle timeout, before
/// it is an outlier: handled at the clock's time, and not moving it. A day: a quiet link
/// overnight is not an outlier, a clock thirty years off is.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(86_400);

/// Consecutive packets far ahead of the clock, within the slack of one another, that show
/// the capture itself jumped (a pause of the link, files joined): the clock follows them.
pub(crate) const CLOCK_JUMP_PACKETS: u32 = 32;

fn secs(d: Duration) -> u32 {
    d.as_secs().min(u32::MAX as u64) as u32
}

impl FlowTable {
    pub(crate) fn new(mut cfg: FlowConfig) -> Self {
        let bounds = Bounds::of(&cfg);
        cfg.max_buffer_total = bounds.buffers.max;
        FlowTable {
            slack_secs: cfg.idle_timeout.saturating_add(CLOCK_SLACK).as_secs(),
            hasher: ahash::RandomState::new(),
            active: HashTable::with_capacity(cfg.max_flows.min(1 << 10)),
            half_open: HashTable::new(),
            half_open_cap: bounds.half_open.max,
            done: FinishedFlows::default(),
            fingerprints: FingerprintCache::with_bounds(
                cfg.fingerprint_cache,
                bounds.fingerprints,
                cfg.notice.clone(),
            ),
            bounds,
            cfg,
            buffered: 0,
            now: Duration::ZERO,
            clock_lo: 1,
            clock_hi: 0,
            jump: None,
            next_sweep: Duration::ZERO,
        }
    }

    /// Times the fingerprint cache was emptied for the memory bound.
    pub(crate) fn fingerprints_shed(&self) -> u64 {
        self.fingerprints.shed_by_memory
    }

    /// Hellos whose fingerprints were reused: all of them, and all but JA3.
    pub(crate) fn fingerprints_reused(&self) -> (u64, u64) {
        (self.fingerprints.hits, self.fingerprints.hits_unordered)
    }

    pub(crate) fn len(&self) -> usize {
        self.active.len() + self.half_open.len() + self.done.len()
    }

    /// Handles one TCP segment at packet time `ts`. Records keep the packets' own times; the
    /// table's decisions (idleness, finished entries) use the table's clock (see
    /// [`Self::clock`]).
    pub(crate) fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        ts: Duration,
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        let at = self.clock(ts, stats);
        if self.now >= self.next_sweep {
            self.sweep(stats, emit);
        }
        let key = FlowKey::of(seg);
        let h = self.hasher.hash_one(key);
        self.on_segment_at(key, h, seg, (ts, at), stats, emit)
    }

    /// [`Self::on_segment`] once the clock is read and the key hashed.
    #[inline(always)]
    fn on_segment_at(
        &mut self,
        key: FlowKey,
        h: u64,
        seg: &TcpSegment<'_>,
        (ts, at): (Duration, Duration),
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        // Followed flows first: that table is small and in cache, while the finished ones
        // can number millions, and a packet of a followed flow never needs to look there.
        if let Ok(mut entry) = self.active.find_entry(h, |e| e.0 == key) {
            let flow = &mut entry.get_mut().1;
            let ended = take_segment(
                flow,
                seg,
                (ts, at),
                &self.cfg,
                &self.bounds,
                &mut self.fingerprints,
                &mut self.buffered,
                stats,
                emit,
            );
            if ended {
                entry.remove();
                self.mark_done(h, at, stats);
            }
            return;
        }
        if !self.half_open.is_empty() {
            if let Ok(mut entry) = self.half_open.find_entry(h, |e| e.tag == h) {
                // A pure RST ends it as it would end a full flow (no TLS seen: counted, no
                // record); a SYN or ACK without payload updates it; anything else makes it
                // the full flow it would have been, which takes the segment.
                let bare = seg.payload.is_empty() && !seg.fin;
                let reset = bare && seg.rst && !seg.syn;
                if bare && !seg.rst && entry.get_mut().on_segment(seg, ts, at) {
                    return;
                }
                let (half, _) = entry.remove();
                if reset {
                    stats.flows_without_payload += 1;
                    self.mark_done(h, at, stats);
                    return;
                }
                return self.promote(half, key, seg, (ts, at), stats, emit);
            }
        }
        // A SYN starts a new connection whatever a finished entry of the same addresses and
        // ports says, so it need not look there (a cache miss per flow in a large table): that
        // entry is shadowed while the new flow is followed, and overwritten when it ends (or
        // swept with it, being older).
        if (!seg.syn || seg.ack) && self.done.touch(h, secs(at)) {
            // The fast path: a decided flow costs this lookup and nothing else.
            stats.packets_fast_path += 1;
            return;
        }
        self.on_new(key, h, seg, (ts, at), stats, emit)
    }

    /// Moves the table's clock to packet time `ts` and returns the time the packet is handled
    /// at. One packet stamped years ahead (or behind) must not time out every flow at once,
    /// nor stop the sweeps of idle flows afterwards: such an outlier is counted and handled
    /// at the clock's time (its record still says when it was stamped), unless enough
    /// packets in a row agree that the capture jumped.
    #[inline]
    fn clock(&mut self, ts: Duration, stats: &mut Stats) -> Duration {
        // Whole seconds are precise enough against a day's slack.
        let s = ts.as_secs();
        if s >= self.clock_lo && s <= self.clock_hi {
            if self.jump.is_some() {
                self.jump = None;
            }
            if ts > self.now {
                self.set_now(ts);
            }
            return ts;
        }
        self.clock_outlier(ts, stats)
    }

    fn set_now(&mut self, ts: Duration) {
        self.now = ts;
        let s = ts.as_secs();
        self.clock_lo = s.saturating_sub(self.slack_secs);
        self.clock_hi = s.saturating_add(self.slack_secs);
    }

    /// [`Self::clock`] for the first packet, and for one far from the clock.
    #[cold]
    #[inline(never)]
    fn clock_outlier(&mut self, ts: Duration, stats: &mut Stats) -> Duration {
        if self.clock_lo > self.clock_hi {
            // The first packet sets the clock.
            self.set_now(ts);
            return ts;
        }
        if ts > self.now {
            let slack = Duration::from_secs(self.slack_secs);
            let n = match self.jump {
                Some((t, n)) if t.abs_diff(ts) <= slack => n + 1,
                _ => 1,
            };
            if n >= CLOCK_JUMP_PACKETS {
                self.jump = None;
                self.set_now(ts);
                return ts;
            }
            self.jump = Some((ts, n));
        }
        stats.packets_clock_outlier += 1;
        self.now
    }

    fn mark_done(&mut self, h: u64, ts: Duration, stats: &mut Stats) {
        if self.len() >= self.cfg.max_flows {
            // Finished entries only make later packets cheap; forget them first.
            stats.evicted_finished += self.done.len() as u64;
            self.done.clear();
        } else if self.done.len() >= self.bounds.finished.max {
            self.shed_finished(stats);
        }
        self.done.insert(h, secs(ts));
        stats.flows_peak = stats.flows_peak.max(self.len() as u64);
    }

    // Out of line: once per flow, and keeping it out keeps the per-packet path's frame small.
    #[inline(never)]
    fn on_new(
        &mut self,
        key: FlowKey,
        h: u64,
        seg: &TcpSegment<'_>,
        (ts, at): (Duration, Duration),
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        if let Some(half) = HalfOpen::of_syn(h, seg, ts, at) {
            if self.half_open.len() >= self.half_open_cap {
                // The oldest quarter: one pass over the table for many new entries.
                let n = self.half_open.len() - self.half_open_cap / 4 * 3;
                let evicted = self.evict_half_open(n.max(1), stats);
                if self.bounds.half_open.by_memory {
                    stats.shed_memory(Shed::HalfOpen, evicted as u64, &self.cfg.notice);
                }
            }
            if self.len() >= self.cfg.max_flows {
                self.make_room(stats, emit);
            }
            self.half_open.insert_unique(h, half, |e| e.tag);
            stats.flows_peak = stats.flows_peak.max(self.len() as u64);
            return;
        }
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let (client, server, tls) = if seg.syn && !seg.ack {
            // TCP Fast Open carries the ClientHello in the SYN.
            (src, dst, false)
        } else if seg.syn {
            (dst, src, false)
        } else if seg.rst || seg.fin || seg.payload.is_empty() {
            // Stray end or pure ACK of a connection we never saw begin: nothing to learn.
            stats.packets_untracked += 1;
            return;
        } else {
            match client_hello_evidence(seg.payload) {
                // Too short to judge: the probe waits for more.
                Evidence::ClientHello | Evidence::NeedMore => (src, dst, false),
                // The capture missed the ClientHello: still report what the server chose.
                Evidence::NotTls if looks_like_server_hello(seg.payload) => (dst, src, true),
                // A keep-alive probe's byte, middlebox junk: too little to judge the flow by,
                // and which end sent it is unknown. The next segment starts the flow.
                Evidence::NotTls if seg.payload.len() <= 2 => {
                    stats.packets_untracked += 1;
                    return;
                }
                Evidence::NotTls => {
                    stats.flows_not_tls += 1;
                    self.mark_done(h, at, stats);
                    return;
                }
            }
        };
        let mut flow = Flow::boxed(client, server, ts, at, &self.cfg);
        flow.tls = tls;
        flow.tunnel = seg.tunnel;
        if tls {
            stats.flows_tls += 1;
        } else if !seg.payload.is_empty() && client == src {
            // The first budgeted look of many: it cannot say "not TLS" yet.
            if let Probe::Tls = flow.probe(seg, &self.cfg) {
                stats.flows_tls += 1;
            }
        }
        let decided = flow.on_segment(seg, ts, at, &self.cfg, &mut self.fingerprints);
        match decided {
            Some(outcome) => {
                if flow.tls {
                    stats.note_flow_end(flow.record(outcome, EndReason::Decided), emit);
                } else {
                    note_not_tls_end(&flow, stats);
                }
                self.mark_done(h, at, stats);
            }
            None => {
                if self.len() >= self.cfg.max_flows {
                    self.make_room(stats, emit);
                }
                if self.active.len() >= self.bounds.active.max {
                    self.shed_active(stats, emit);
                }
                account(
                    &mut self.buffered,
                    &self.bounds.buffers,
                    0,
                    &mut flow,
                    stats,
                    &self.cfg.notice,
                );
                let hasher = &self.hasher;
                self.active
                    .insert_unique(h, (key, flow), |e| hasher.hash_one(e.0));
                stats.flows_peak = stats.flows_peak.max(self.len() as u64);
            }
        }
    }

    /// Frees room: forgets finished and non-TLS entries first, then evicts the least recently
    /// seen active flows (reporting the TLS ones) until the table is at most 7/8 full.
    fn make_room(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        stats.evicted_finished += self.done.len() as u64;
        self.done.clear();
        let target = (self.cfg.max_flows - self.cfg.max_flows / 8).max(1);
        let held = self.active.len() + self.half_open.len();
        if held < target {
            return;
        }
        // Connections that sent nothing yet go first: the flows being read are worth more.
        let mut excess = held + 1 - target;
        let n = excess.min(self.half_open.len());
        if n > 0 {
            self.evict_half_open(n, stats);
            excess -= n;
        }
        if excess == 0 || self.active.is_empty() {
            return;
        }
        self.evict_active(excess, stats, emit);
    }

    /// Frees room among the followed flows when they reached their share of the memory
    /// bound: the least recently seen quarter goes (reported), so that this happens once per
    /// many new flows.
    #[cold]
    #[inline(never)]
    fn shed_active(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        let n = self.active.len() + 1 - self.bounds.active.max / 4 * 3;
        let evicted = self.evict_active(n, stats, emit);
        if self.bounds.active.by_memory {
            stats.shed_memory(Shed::Flows, evicted as u64, &self.cfg.notice);
        }
    }

    /// Forgets the finished flows when they reached their share of the memory bound.
    #[cold]
    #[inline(never)]
    fn shed_finished(&mut self, stats: &mut Stats) {
        let n = self.done.len() as u64;
        stats.evicted_finished += n;
        self.done.clear();
        if self.bounds.finished.by_memory {
            stats.shed_memory(Shed::Finished, n, &self.cfg.notice);
        }
    }

    /// Evicts the `n` (at least one) least recently seen followed flows, reporting the TLS
    /// ones; returns how many went.
    fn evict_active(
        &mut self,
        n: usize,
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) -> usize {
        if self.active.is_empty() {
            return 0;
        }
        let mut ages: Vec<Duration> = self.active.iter().map(|(_, f)| f.seen_at).collect();
        let n_evict = n.clamp(1, ages.len());
        let (_, cutoff, _) = ages.select_nth_unstable(n_evict - 1);
        let cutoff = *cutoff;
        let mut evicted = 0;
        let buffered = &mut self.buffered;
        self.active.retain(|(_, f)| {
            if evicted >= n_evict || f.seen_at > cutoff {
                return true;
            }
            evicted += 1;
            *buffered -= f.buffered();
            report_end(f, EndReason::TableFull, stats, emit);
            false
        });
        stats.evicted_table_full += evicted as u64;
        evicted
    }

    /// Evicts the `n` least recently seen connections that sent nothing yet, counted as a
    /// full flow without payload evicted from a full table would be.
    fn evict_half_open(&mut self, n: usize, stats: &mut Stats) -> usize {
        let n = n.min(self.half_open.len());
        if n == 0 {
            return 0;
        }
        let mut ages: Vec<u64> = self.half_open.iter().map(|e| e.seen_at).collect();
        let (_, cutoff, _) = ages.select_nth_unstable(n - 1);
        let cutoff = *cutoff;
        let mut evicted = 0;
        self.half_open.retain(|e| {
            if evicted >= n || e.seen_at > cutoff {
                return true;
            }
            evicted += 1;
            false
        });
        stats.evicted_table_full += evicted as u64;
        stats.flows_without_payload += evicted as u64;
        evicted
    }

    /// Turns a connection that sent nothing yet into a full flow, which then takes `seg`.
    #[inline(never)]
    fn promote(
        &mut self,
        half: HalfOpen,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        (ts, at): (Duration, Duration),
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        let mut flow = half.into_flow(seg, &self.cfg);
        if self.len() >= self.cfg.max_flows {
            self.make_room(stats, emit);
        }
        if self.active.len() >= self.bounds.active.max {
            self.shed_active(stats, emit);
        }
        // The segment is taken before the flow is inserted (rather than found again in the
        // table): a flow it decides is never inserted at all. The peak counts it either way.
        stats.flows_peak = stats.flows_peak.max(self.len() as u64 + 1);
        let ended = take_segment(
            &mut flow,
            seg,
            (ts, at),
            &self.cfg,
            &self.bounds,
            &mut self.fingerprints,
            &mut self.buffered,
            stats,
            emit,
        );
        if ended {
            self.mark_done(half.tag, at, stats);
            return;
        }
        let hasher = &self.hasher;
        self.active
            .insert_unique(half.tag, (key, flow), |e| hasher.hash_one(e.0));
    }

    /// Evicts flows idle for longer than the timeout.
    fn sweep(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        let timeout = self.cfg.idle_timeout;
        self.next_sweep = self.now + (timeout / 4).max(Duration::from_secs(1));
        let Some(limit) = self.now.checked_sub(timeout) else {
            return;
        };
        let buffered = &mut self.buffered;
        self.active.retain(|(_, f)| {
            if f.seen_at >= limit {
                return true;
            }
            *buffered -= f.buffered();
            stats.evicted_idle += 1;
            report_end(f, EndReason::IdleTimeout, stats, emit);
            false
        });
        if let Some(limit) = nanos(limit) {
            self.half_open.retain(|e| {
                if e.seen_at >= limit {
                    return true;
                }
                stats.evicted_idle += 1;
                stats.flows_without_payload += 1;
                false
            });
        }
        // Seen at or after the limit's second, as the followed flows above.
        let now = secs(self.now);
        self.done.retain_seen_within(now, now - secs(limit));
    }

    /// Tells the table the time without a packet (a live capture's wall clock), so that
    /// flows idle past the timeout are swept on a quiet link too.
    pub(crate) fn tick(
        &mut self,
        now: Duration,
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        if now > self.now {
            self.now = now;
        }
        if self.now >= self.next_sweep {
            self.sweep(stats, emit);
        }
    }

    /// Reports every open TLS flow and empties the table.
    pub(crate) fn flush(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        self.buffered = 0;
        for (_, mut f) in self.active.drain() {
            report_end(&mut f, EndReason::EndOfCapture, stats, emit);
        }
        stats.flows_without_payload += self.half_open.len() as u64;
        self.half_open.clear();
        self.done.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Flow;

    /// glibc serves allocations of up to 1 032 bytes from its per-thread cache (tcache); a
    /// larger `Flow` costs every new flow about 150 instructions more in malloc (cachegrind
    /// on the handshakes mix), so growing it past that is a decision, not an accident.
    #[test]
    fn a_flow_fits_the_allocators_per_thread_cache() {
        let size = std::mem::size_of::<Flow>();
        assert!(size <= 1032, "Flow is {size} bytes");
    }
}
