//! The bounded flow table: lookup, promotion of half-open connections, eviction, idle
//! sweeps and the table's clock.

use hashbrown::HashTable;
use std::net::SocketAddr;
use std::time::Duration;

use super::clock::Clock;
use super::connection::{Flow, Held, Probe, PROBE_SEGMENTS};
use super::half_open::{nanos, HalfOpen};
use super::{FlowConfig, FlowKey};
use crate::decode::TcpSegment;
use crate::fingerprint_cache::FingerprintCache;
use crate::finished::FinishedFlows;
use crate::memory::{Bound, Bounds, Shed, ShedNotice};
use crate::record::{emit_in_order, EndReason, FlowRecord};
use crate::stats::Stats;
use crate::tls_stream::{client_hello_evidence, looks_like_server_hello, Evidence};

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
    /// The box of the latest flow that ended, for the next one (see [`Flow::boxed`]). What
    /// it still holds (its buffers' capacity, at most one flow's) goes when it is reused.
    spare: Option<Box<Flow>>,
    done: FinishedFlows,
    /// Bytes held in the buffers of all followed flows.
    buffered: usize,
    /// The table's clock (see [`Clock::read`]), and when it next sweeps idle flows.
    clock: Clock,
}

/// Most connections that sent nothing yet held at once, of `max_flows`: 7/32 of it (229 376
/// of the default 2^20). Their table then grows to at most twice as many slots (2^19 of 48
/// bytes, 25 MiB), never more: the slots of evicted entries stay marked deleted, and
/// hashbrown reclaims them by rehashing in place only while the table is at most half full;
/// above that it would double (and the allocator keep both), however many slots are free.
pub(crate) fn half_open_cap(max_flows: usize) -> usize {
    (max_flows / 32 * 7).max(1)
}

fn secs(d: Duration) -> u32 {
    d.as_secs().min(u32::MAX as u64) as u32
}

impl FlowTable {
    pub(crate) fn new(mut cfg: FlowConfig) -> Self {
        let bounds = Bounds::of(&cfg);
        cfg.max_buffer_total = bounds.buffers.max;
        FlowTable {
            clock: Clock::new(cfg.idle_timeout),
            hasher: ahash::RandomState::new(),
            active: HashTable::with_capacity(cfg.max_flows.min(1 << 10)),
            half_open: HashTable::new(),
            half_open_cap: bounds.half_open.max,
            done: FinishedFlows::default(),
            spare: None,
            fingerprints: FingerprintCache::with_bounds(
                cfg.fingerprint_cache,
                bounds.fingerprints,
                cfg.notice.clone(),
            ),
            bounds,
            cfg,
            buffered: 0,
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
        let at = self.clock.read(ts, &mut stats.packets_clock_outlier);
        if self.clock.sweep_due() {
            self.sweep(stats, emit);
        }
        let (key, src_is_lo) = FlowKey::of(seg);
        let h = self.hasher.hash_one(key);
        self.on_segment_at((key, src_is_lo), h, seg, (ts, at), stats, emit)
    }

    /// [`Self::on_segment`] once the clock is read and the key hashed.
    #[inline(always)]
    fn on_segment_at(
        &mut self,
        (key, src_is_lo): (FlowKey, bool),
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
                let ((_, flow), _) = entry.remove();
                self.spare = Some(flow);
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
                if bare && !seg.rst && entry.get_mut().on_segment(seg, src_is_lo, ts, at) {
                    return;
                }
                let (half, _) = entry.remove();
                if reset {
                    stats.flows_without_payload += 1;
                    self.mark_done(h, at, stats);
                    return;
                }
                return self.promote(half, (key, src_is_lo), seg, (ts, at), stats, emit);
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
        self.on_new((key, src_is_lo), h, seg, (ts, at), stats, emit)
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
        (key, src_is_lo): (FlowKey, bool),
        h: u64,
        seg: &TcpSegment<'_>,
        (ts, at): (Duration, Duration),
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        if let Some(half) = HalfOpen::of_syn(h, seg, src_is_lo, ts, at) {
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
        let mut flow = Flow::boxed(&mut self.spare, client, server, ts, at, &self.cfg);
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
                self.spare = Some(flow);
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
        // Ties of age are broken by the key, so that which flows go does not depend on the
        // table's (random) hash order: the cutoff is one flow, and exactly those up to it go.
        let mut ages: Vec<(Duration, FlowKey)> =
            self.active.iter().map(|(k, f)| (f.seen_at, *k)).collect();
        let n_evict = n.clamp(1, ages.len());
        let (_, cutoff, _) = ages.select_nth_unstable(n_evict - 1);
        let cutoff = *cutoff;
        let mut evicted = 0;
        let buffered = &mut self.buffered;
        let mut records = Vec::new();
        self.active.retain(|(k, f)| {
            if (f.seen_at, *k) > cutoff {
                return true;
            }
            evicted += 1;
            *buffered -= f.buffered();
            report_end(f, EndReason::TableFull, stats, &mut |r| records.push(r));
            false
        });
        emit_in_order(&mut records, emit);
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
        (key, src_is_lo): (FlowKey, bool),
        seg: &TcpSegment<'_>,
        (ts, at): (Duration, Duration),
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        let mut flow = half.into_flow(seg, src_is_lo, &self.cfg, &mut self.spare);
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
            self.spare = Some(flow);
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
        self.clock.swept();
        let Some(limit) = self.clock.now.checked_sub(timeout) else {
            return;
        };
        let buffered = &mut self.buffered;
        let mut records = Vec::new();
        self.active.retain(|(_, f)| {
            if f.seen_at >= limit {
                return true;
            }
            *buffered -= f.buffered();
            stats.evicted_idle += 1;
            report_end(f, EndReason::IdleTimeout, stats, &mut |r| records.push(r));
            false
        });
        emit_in_order(&mut records, emit);
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
        let now = secs(self.clock.now);
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
        if now > self.clock.now {
            self.clock.now = now;
        }
        if self.clock.sweep_due() {
            self.sweep(stats, emit);
        }
    }

    /// Makes this a worker's table, whose clock the reader of the capture drives (see
    /// [`super::clock`]): packets are handled at their own time unless [`Self::force_at`]
    /// says otherwise, and idle flows are swept only by [`Self::sweep_at`].
    pub(crate) fn drive_clock(&mut self) {
        self.clock = Clock::driven(self.cfg.idle_timeout);
    }

    /// A driven table: the next segment is handled at `at`, an outlier by the reader's
    /// clock. [`Self::unforce`] after it.
    pub(crate) fn force_at(&mut self, at: Duration) {
        self.clock.force(at);
    }

    /// A driven table: forgets a forced time no segment took.
    pub(crate) fn unforce(&mut self) {
        self.clock.unforce();
    }

    /// A driven table: the idle sweep the reader's clock made at `now`.
    pub(crate) fn sweep_at(
        &mut self,
        now: Duration,
        stats: &mut Stats,
        emit: &mut impl FnMut(FlowRecord),
    ) {
        self.clock.now = now;
        self.sweep(stats, emit);
    }

    /// Reports every open TLS flow and empties the table.
    pub(crate) fn flush(&mut self, stats: &mut Stats, emit: &mut impl FnMut(FlowRecord)) {
        self.buffered = 0;
        let mut records = Vec::new();
        for (_, mut f) in self.active.drain() {
            report_end(&mut f, EndReason::EndOfCapture, stats, &mut |r| {
                records.push(r)
            });
        }
        emit_in_order(&mut records, emit);
        stats.flows_without_payload += self.half_open.len() as u64;
        self.half_open.clear();
        self.done.clear();
    }
}
