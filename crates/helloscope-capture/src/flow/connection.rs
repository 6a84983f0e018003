//! One TCP connection being followed: the probe for a ClientHello, reassembly of both
//! directions, and how the connection closes.

use std::net::SocketAddr;
use std::time::Duration;

use super::handshake_state::HandshakeState;
use super::{idx, FlowConfig};
use crate::decode::{TcpSegment, TunnelStack};
use crate::fingerprint_cache::FingerprintCache;
use crate::reassembly::{Seen, StreamReassembler};
use crate::record::{ClientHelloSummary, EndReason, FlowFlags, FlowRecord, Outcome, Side};
use crate::tls_stream::{client_hello_evidence, looks_like_server_hello, Evidence, TlsStream};

/// One direction of a flow.
#[derive(Debug)]
pub(super) struct Direction {
    pub(super) reasm: StreamReassembler,
    pub(super) tls: TlsStream,
    bytes: u64,
}

/// A flow whose handshake is being followed.
#[derive(Debug)]
pub(crate) struct Flow {
    client: SocketAddr,
    server: SocketAddr,
    /// Packet times, for the record.
    first_seen: Duration,
    pub(super) last_seen: Duration,
    /// The table's clock at its latest packet: what idleness is judged by.
    pub(super) seen_at: Duration,
    pub(super) packets: u64,
    pub(super) syn_seen: bool,
    /// A ClientHello was seen at the start of a client segment: this is a TLS flow.
    pub(super) tls: bool,
    /// Client payload segments still to look at for a ClientHello before giving up.
    pub(super) probe_budget: u8,
    pub(super) dirs: [Direction; 2],
    hs: HandshakeState,
    first_fin: Option<Side>,
    /// Where each side's FIN lies in its sequence space, once seen.
    fin_at: [Option<u32>; 2],
    rst: Option<Side>,
    pub(super) snaplen_cut: bool,
    /// Its buffers were dropped to keep the table under `max_buffer_total`.
    shed_by_budget: bool,
    /// The encapsulations it came through.
    pub(super) tunnel: TunnelStack,
    /// The client's bytes from the start of what may be a ClientHello, while too few to
    /// judge: at most four records of one byte (24 bytes) or an SSLv2 header (11).
    pub(super) hello_prefix: Vec<u8>,
    /// While the flow is not known to be TLS, a short run of client bytes the probe stepped
    /// over; then, the first bytes of the ClientHello the probe found.
    pub(super) held: Held,
    /// Stream offset of the ClientHello's first byte (`u32::MAX` until one is found), and a
    /// digest of its first [`HEAD_LEN`] bytes (0 when fewer came at once): what a later copy
    /// of them is compared with, to flag `overlap_conflict`. (Not the bytes themselves: with
    /// them a flow would outgrow the allocator's per-thread cache, 1 032 bytes.)
    hello_offset: u32,
    hello_digest: u32,
}

/// What a flow holds of the client's first bytes.
#[derive(Debug, Default)]
pub(super) enum Held {
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
pub(super) struct Stray {
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

    /// [`Flow::new`] on the heap: in the box of a flow that ended (`spare`), when there is
    /// one, rather than a new allocation (a flow ends for about every one that starts, and
    /// the allocator's malloc and free cost more than the copy). Otherwise the allocation
    /// comes first and the flow is written into it: `Box::new(Flow::new(..))` built the
    /// (large) flow on the stack and then copied it.
    #[inline(always)]
    pub(super) fn boxed(
        spare: &mut Option<Box<Flow>>,
        client: SocketAddr,
        server: SocketAddr,
        ts: Duration,
        at: Duration,
        cfg: &FlowConfig,
    ) -> Box<Self> {
        match spare.take() {
            Some(mut b) => {
                *b = Flow::new(client, server, ts, at, cfg);
                b
            }
            None => Box::write(Box::new_uninit(), Flow::new(client, server, ts, at, cfg)),
        }
    }

    /// Looks at a payload segment of a flow not yet known to be TLS. TLS starts with a
    /// ClientHello at the start of the client's next bytes; anything before it (a STARTTLS
    /// dialogue, a SOCKS or HTTP CONNECT request) is stepped over, for a bounded number of
    /// segments. A ClientHello is only believed once its headers have been checked field by
    /// field: a first segment too short for that waits for the next ones (in stream order,
    /// whatever order they come in).
    pub(super) fn probe(&mut self, seg: &TcpSegment<'_>, cfg: &FlowConfig) -> Probe {
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
    pub(super) fn note_server_ack(&mut self, seg: &TcpSegment<'_>) {
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
    pub(super) fn buffered(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.reasm.pending_bytes() + d.tls.buffered())
            .sum::<usize>()
            + self.hello_prefix.len()
    }

    /// Drops every buffer of this flow (memory pressure on the whole table).
    pub(super) fn shed(&mut self) {
        for d in &mut self.dirs {
            d.reasm.shed();
            d.tls.shed();
        }
        self.shed_by_budget = true;
    }

    fn side_of(&self, seg: &TcpSegment<'_>) -> Side {
        // The ports first: they tell most server segments apart without the addresses.
        if seg.src_port == self.client.port() && seg.src == self.client.ip() {
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
    pub(super) fn on_segment(
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

/// Payload segments of a flow looked at for a ClientHello (after STARTTLS, SOCKS, HTTP
/// CONNECT …) before the flow is judged not to be TLS.
pub(super) const PROBE_SEGMENTS: u8 = 16;

/// What a look at a not-yet-TLS flow's segment found.
pub(super) enum Probe {
    /// A ClientHello starts here.
    Tls,
    /// Not yet; keep looking.
    NotYet,
    /// Looked long enough: not TLS.
    NotTls,
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
