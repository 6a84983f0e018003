//! Flows: the per-connection state machine, and the bounded table that holds them.
//!
//! By concern: [`table`] holds the flows ([`FlowTable`]: lookup, eviction, sweeps, the
//! clock), [`connection`] follows one TCP connection ([`connection::Flow`]: the probe for a
//! ClientHello, reassembly, closing), [`half_open`] stands in for a connection that has sent
//! no payload yet, and [`handshake_state`] is what the TLS events of both directions
//! established. (A UDP exchange is [`crate::udp_flow`].)

use std::net::IpAddr;
use std::time::Duration;

use crate::decode::TcpSegment;
use crate::record::Side;

pub(crate) mod clock;
mod connection;
mod half_open;
mod handshake_state;
mod table;

pub(crate) use table::{active_entry_cost, half_open_cap, half_open_slot, FlowTable};

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
/// Ordered only to break ties among flows deterministically (see
/// `FlowTable::evict_active`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
    /// The key of `seg`'s connection, and whether `seg`'s sender is its lower endpoint (what
    /// a [`half_open::HalfOpen`] tells its sides by, so it is not worked out again).
    #[inline(always)]
    pub(crate) fn of(seg: &TcpSegment<'_>) -> (Self, bool) {
        let a = (addr128(seg.src), seg.src_port);
        let b = (addr128(seg.dst), seg.dst_port);
        let src_is_lo = a <= b;
        let (lo, hi) = if src_is_lo { (a, b) } else { (b, a) };
        let key = FlowKey {
            lo: lo.0,
            hi: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
            tunnel: seg.tunnel.identity(),
        };
        (key, src_is_lo)
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}
