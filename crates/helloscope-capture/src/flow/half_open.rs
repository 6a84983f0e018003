//! A connection that has sent no payload yet, held in a few dozen bytes.

use std::net::SocketAddr;
use std::time::Duration;

use super::connection::Flow;
use super::FlowConfig;
use crate::decode::TcpSegment;
use crate::record::Side;

/// A connection that has sent no payload yet (SYN, SYN-ACK, pure ACKs): what a full [`Flow`]
/// would have learnt from those segments, in a few dozen bytes. A SYN flood, a port scan or
/// connections that never send data then cost this, not a flow with two reassemblers and
/// TLS readers; the first payload byte (or a FIN, or anything unusual) turns it into the
/// [`Flow`] it would have been, and that flow goes on as if it had been one all along.
#[derive(Clone, Copy, Debug)]
pub(super) struct HalfOpen {
    /// The keyed hash of its [`FlowKey`](super::FlowKey) (random per run, so traffic cannot aim for a
    /// collision; the finished table trusts the same tag).
    pub(super) tag: u64,
    /// Packet times, in nanoseconds, for the record of the flow it may become.
    first_seen: u64,
    last_seen: u64,
    /// The table's clock at its latest packet, in nanoseconds.
    pub(super) seen_at: u64,
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
pub(super) fn nanos(d: Duration) -> Option<u64> {
    u64::try_from(d.as_nanos()).ok()
}

impl HalfOpen {
    /// Starts one from a SYN (or a SYN-ACK whose SYN was missed) without payload, sent by the
    /// lower endpoint of the key when `src_is_lo`; `None` when the segment needs a full flow.
    pub(super) fn of_syn(
        tag: u64,
        seg: &TcpSegment<'_>,
        src_is_lo: bool,
        ts: Duration,
        at: Duration,
    ) -> Option<Self> {
        let both_ends_same = seg.src == seg.dst && seg.src_port == seg.dst_port;
        if !seg.syn || !seg.payload.is_empty() || seg.rst || seg.fin || both_ends_same {
            return None;
        }
        let (t, a) = (nanos(ts)?, nanos(at)?);
        // The SYN's sender is the client, a SYN-ACK's receiver: the side of its sender.
        let client_is_lo = src_is_lo != seg.ack;
        let i = usize::from(seg.ack);
        let mut syn = [0; 2];
        syn[i] = seg.seq;
        let mut bits = SYN_OF[i];
        if client_is_lo {
            bits |= CLIENT_IS_LO;
        }
        if seg.truncated {
            bits |= SNAPLEN_CUT;
        }
        Some(HalfOpen {
            tag,
            first_seen: t,
            last_seen: t,
            seen_at: a,
            syn,
            packets: 1,
            bits,
        })
    }

    /// The side of a segment's sender, the lower endpoint of the key when `src_is_lo`.
    fn side_of(&self, src_is_lo: bool) -> Side {
        if src_is_lo == (self.bits & CLIENT_IS_LO != 0) {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// Takes a segment without payload, FIN or RST, as [`Flow::on_segment`] would; false
    /// (and nothing taken) when it needs a full flow: a SYN with another sequence number
    /// than the side's first one, or a time that does not fit.
    pub(super) fn on_segment(
        &mut self,
        seg: &TcpSegment<'_>,
        src_is_lo: bool,
        ts: Duration,
        at: Duration,
    ) -> bool {
        let (Some(t), Some(a)) = (nanos(ts), nanos(at)) else {
            return false;
        };
        let i = usize::from(self.side_of(src_is_lo) == Side::Server);
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
    pub(super) fn into_flow(
        self,
        seg: &TcpSegment<'_>,
        src_is_lo: bool,
        cfg: &FlowConfig,
        spare: &mut Option<Box<Flow>>,
    ) -> Box<Flow> {
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let (client, server) = match self.side_of(src_is_lo) {
            Side::Client => (src, dst),
            Side::Server => (dst, src),
        };
        let mut f = Flow::boxed(
            spare,
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
