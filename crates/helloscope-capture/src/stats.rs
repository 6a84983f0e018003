//! Counters: every packet and flow that was not turned into a record says why here.

use std::collections::BTreeMap;

use crate::decode::{DecodeError, DecodeSkip};
use crate::record::FlowRecord;

/// What the analyzer saw and shed.
///
/// ```
/// use helloscope_capture::{Analyzer, DecodeSkip, FlowConfig, LinkType};
/// let mut a = Analyzer::new(FlowConfig::default());
/// // An Ethernet frame carrying ARP (EtherType 0x0806): not IP, counted and skipped.
/// let mut arp = [0u8; 42];
/// arp[12..14].copy_from_slice(&[0x08, 0x06]);
/// a.process(std::time::Duration::ZERO, LinkType::Ethernet, &arp, &mut |_| {});
/// assert_eq!(a.stats().packets, 1);
/// assert_eq!(a.stats().skipped[&DecodeSkip::NotIp], 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Frames read.
    pub packets: u64,
    /// Bytes of frames read (captured length).
    pub bytes: u64,
    /// Frames with a TCP segment.
    pub tcp_segments: u64,
    /// TCP segments that came through at least one tunnel (IP in IP, GRE, VXLAN …).
    pub tunnelled_segments: u64,
    /// IP fragments taken for reassembly.
    pub ip_fragments: u64,
    /// IP datagrams put back together from their fragments.
    pub ip_reassembled: u64,
    /// Fragments whose bytes disagreed with bytes already held (the first copy was kept).
    pub ip_fragment_overlap_conflicts: u64,
    /// Fragments turned away by a reassembly bound (65535 bytes per datagram, bytes or
    /// datagrams held), misaligned, cut by the snap length, or giving a second end.
    pub ip_fragments_dropped: u64,
    /// Datagrams dropped incomplete (timed out, or open at the end of the capture).
    pub ip_datagrams_incomplete: u64,
    /// Frames skipped, by reason (its [`name`](crate::DecodeSkip::name) is the counter's
    /// name in every output). The layer and the bytes missing are in the [`DecodeError`]
    /// that [`decode_packet`](crate::decode_packet) returns; they are not counted here: a
    /// second map made the plain TCP path 0.8 % slower (cachegrind, `analyze` of a bulk
    /// capture), as the compiler then laid out the CLI's read loop differently.
    pub skipped: BTreeMap<DecodeSkip, u64>,
    /// Segments of flows already decided or known not to be TLS (one lookup each).
    pub packets_fast_path: u64,
    /// Pure ACKs, FINs and RSTs of connections whose start was not seen.
    pub packets_untracked: u64,
    /// Flows whose first client bytes were a ClientHello.
    pub flows_tls: u64,
    /// Flows whose first bytes were something else.
    pub flows_not_tls: u64,
    /// Flows that ended without any payload (port scans, SYN floods, refused connections).
    pub flows_without_payload: u64,
    /// Records written.
    pub records: u64,
    /// Flows evicted for idleness.
    pub evicted_idle: u64,
    /// Flows evicted from a full table.
    pub evicted_table_full: u64,
    /// Finished or non-TLS entries forgotten to make room.
    pub evicted_finished: u64,
    /// Most entries the flow table held at once.
    pub flows_peak: u64,
    /// Records whose flow had a hole that never filled.
    pub flows_with_gap: u64,
    /// Records whose flow hit a buffer limit.
    pub flows_buffer_limit: u64,
    /// Records whose flow had conflicting overlapping segments.
    pub flows_overlap_conflict: u64,
    /// Records whose flow stopped parsing as TLS.
    pub flows_malformed: u64,
    /// Packets stamped far ahead of or behind the capture's recent packets (more than the
    /// idle timeout and a day): handled at the capture's recent time, which they did not
    /// move.
    pub packets_clock_outlier: u64,
    /// Times a flow's buffers were dropped to keep all buffers under the total budget.
    pub buffers_shed: u64,
    /// Hellos whose fingerprints were found among those already computed.
    pub fingerprints_reused: u64,
    /// ClientHellos found with their extensions in another order (Chromium shuffles them on
    /// every connection): everything was reused but JA3, which was computed.
    pub fingerprints_reused_but_ja3: u64,
    /// Frames with a UDP datagram.
    pub udp_datagrams: u64,
    /// UDP exchanges whose first datagram was a QUIC client Initial that decrypted.
    pub flows_quic: u64,
    /// UDP exchanges whose first datagram was a DTLS ClientHello record.
    pub flows_dtls: u64,
    /// Datagrams that looked like the start of a QUIC or DTLS handshake and were not (a QUIC
    /// Initial that did not authenticate, a DTLS record that did not parse).
    pub udp_not_handshake: u64,
    /// QUIC Initial packets of a followed connection that could not be decrypted.
    pub quic_initials_undecryptable: u64,
    /// Most UDP exchanges followed at once.
    pub udp_flows_peak: u64,
    /// What was shed because the memory bound ([`crate::FlowConfig::max_memory`]) was the
    /// bound reached, by reason (see [`crate::memory::Shed::name`]): flows, connections
    /// without data and UDP exchanges evicted, finished flows forgotten, flows' buffers
    /// dropped, IP fragments turned away, and the times the fingerprint cache was emptied.
    /// Each is also in the general counter of its kind (`evicted_table_full`,
    /// `buffers_shed` …).
    pub memory_shed: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub(crate) fn skip(&mut self, reason: DecodeSkip) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Counts a frame the decoder refused.
    #[cold]
    pub(crate) fn skip_error(&mut self, e: DecodeError) {
        self.skip(e.skip());
    }

    /// Counts `n` things shed for memory, and says so the first time.
    #[cold]
    pub(crate) fn shed_memory(
        &mut self,
        what: crate::memory::Shed,
        n: u64,
        notice: &crate::memory::ShedNotice,
    ) {
        if n == 0 {
            return;
        }
        *self.memory_shed.entry(what.name()).or_insert(0) += n;
        notice.shed(what);
    }

    pub(crate) fn note_flow_end(&mut self, r: FlowRecord, emit: &mut impl FnMut(FlowRecord)) {
        self.records += 1;
        self.flows_with_gap += r.flags.gap as u64;
        self.flows_buffer_limit += r.flags.buffer_limit as u64;
        self.flows_overlap_conflict += r.flags.overlap_conflict as u64;
        self.flows_malformed += r.flags.malformed as u64;
        emit(r);
    }

    pub(crate) fn set_defrag(&mut self, d: crate::defrag::DefragStats) {
        self.ip_fragments = d.fragments;
        self.ip_reassembled = d.reassembled;
        self.ip_fragment_overlap_conflicts = d.overlap_conflicts;
        self.ip_fragments_dropped = d.dropped;
        self.ip_datagrams_incomplete = d.incomplete;
    }

    /// Adds another analyzer's counters (for sharded runs).
    pub fn merge(&mut self, o: &Stats) {
        self.tunnelled_segments += o.tunnelled_segments;
        self.ip_fragments += o.ip_fragments;
        self.ip_reassembled += o.ip_reassembled;
        self.ip_fragment_overlap_conflicts += o.ip_fragment_overlap_conflicts;
        self.ip_fragments_dropped += o.ip_fragments_dropped;
        self.ip_datagrams_incomplete += o.ip_datagrams_incomplete;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.tcp_segments += o.tcp_segments;
        for (k, v) in &o.skipped {
            *self.skipped.entry(*k).or_insert(0) += v;
        }
        self.packets_fast_path += o.packets_fast_path;
        self.packets_untracked += o.packets_untracked;
        self.flows_tls += o.flows_tls;
        self.flows_not_tls += o.flows_not_tls;
        self.flows_without_payload += o.flows_without_payload;
        self.records += o.records;
        self.evicted_idle += o.evicted_idle;
        self.evicted_table_full += o.evicted_table_full;
        self.evicted_finished += o.evicted_finished;
        self.flows_peak = self.flows_peak.max(o.flows_peak);
        self.flows_with_gap += o.flows_with_gap;
        self.flows_buffer_limit += o.flows_buffer_limit;
        self.flows_overlap_conflict += o.flows_overlap_conflict;
        self.flows_malformed += o.flows_malformed;
        self.buffers_shed += o.buffers_shed;
        self.packets_clock_outlier += o.packets_clock_outlier;
        self.fingerprints_reused += o.fingerprints_reused;
        self.fingerprints_reused_but_ja3 += o.fingerprints_reused_but_ja3;
        self.udp_datagrams += o.udp_datagrams;
        self.flows_quic += o.flows_quic;
        self.flows_dtls += o.flows_dtls;
        self.udp_not_handshake += o.udp_not_handshake;
        self.quic_initials_undecryptable += o.quic_initials_undecryptable;
        self.udp_flows_peak = self.udp_flows_peak.max(o.udp_flows_peak);
        for (k, v) in &o.memory_shed {
            *self.memory_shed.entry(k).or_insert(0) += v;
        }
    }
}
