//! One memory bound for everything that grows with traffic.
//!
//! [`FlowConfig::max_memory`] is divided among the structures an analyzer grows: the followed
//! flows, the connections that sent nothing yet, the finished flows, the reassembly buffers,
//! the UDP exchanges and their buffers, the IP fragments and the fingerprint cache. Each share
//! is turned, once, into bounds those structures already check where they grow (a number of
//! entries, a number of bytes), so that the packets of a flow pay nothing for it: only the
//! creation of an entry compares against its bound. An entry's cost is what it really holds
//! at worst: its own size, the allocator's rounding, and the slots of its hash table, which
//! doubles when full (so up to 16/7 slots an entry).
//!
//! A finer option of [`FlowConfig`] (`max_flows`, `max_buffer_total`, the defragmenter's
//! `max_bytes`, the fingerprint cache's bytes) stays in force when it is the smaller. When the
//! bound of a share is the one that sheds something, that is counted by reason in
//! [`crate::Stats::memory_shed`], and [`ShedNotice`] is told once.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::flow::FlowConfig;

/// What is shed to stay under the memory bound, by the name it is counted under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shed {
    /// Followed flows evicted (the oldest first), reported with `end` `table_full`.
    Flows,
    /// Connections that sent nothing yet, forgotten (the oldest first).
    HalfOpen,
    /// Finished flows forgotten: their later packets are looked at again.
    Finished,
    /// A flow's reassembly buffers dropped (the flow is flagged `buffer_limit`).
    Buffers,
    /// UDP exchanges (QUIC, DTLS) evicted or forgotten.
    UdpExchanges,
    /// IP fragments turned away.
    IpFragments,
    /// The fingerprint cache emptied.
    Fingerprints,
    /// A thread's cache of TLS stack names (the command line's) emptied.
    StackNames,
}

impl Shed {
    /// The name it is counted under in [`crate::Stats::memory_shed`].
    pub fn name(self) -> &'static str {
        match self {
            Shed::Flows => "flows",
            Shed::HalfOpen => "half_open",
            Shed::Finished => "finished",
            Shed::Buffers => "buffers",
            Shed::UdpExchanges => "udp_exchanges",
            Shed::IpFragments => "ip_fragments",
            Shed::Fingerprints => "fingerprints",
            Shed::StackNames => "stack_names",
        }
    }

    /// What is done, in words, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Shed::Flows => "evicting the oldest flows",
            Shed::HalfOpen => "forgetting the oldest connections without data",
            Shed::Finished => "forgetting finished flows",
            Shed::Buffers => "dropping flows' reassembly buffers",
            Shed::UdpExchanges => "evicting the oldest UDP exchanges",
            Shed::IpFragments => "turning IP fragments away",
            Shed::Fingerprints => "emptying the fingerprint cache",
            Shed::StackNames => "emptying the cache of stack names",
        }
    }
}

/// Told the first time anything is shed to stay under the memory bound, and never again,
/// however many clones of it (one per `--threads` worker) see shedding.
#[derive(Clone, Default)]
pub struct ShedNotice {
    tell: Option<Arc<dyn Fn(Shed) + Send + Sync>>,
    told: Arc<AtomicBool>,
}

impl ShedNotice {
    /// A notice that calls `tell` once.
    pub fn new(tell: impl Fn(Shed) + Send + Sync + 'static) -> Self {
        ShedNotice {
            tell: Some(Arc::new(tell)),
            told: Arc::default(),
        }
    }

    /// Says that `what` was shed, if nothing was said before.
    #[cold]
    pub fn shed(&self, what: Shed) {
        if let Some(tell) = &self.tell {
            if !self.told.swap(true, Ordering::Relaxed) {
                tell(what);
            }
        }
    }
}

impl fmt::Debug for ShedNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShedNotice")
            .field("told", &self.told.load(Ordering::Relaxed))
            .finish()
    }
}

/// A bound, and whether the memory bound is what set it (so that what it sheds is counted as
/// shed for memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    pub(crate) max: usize,
    pub(crate) by_memory: bool,
}

impl Bound {
    /// The smaller of the option's `option` and the share's `share`.
    fn of(option: usize, share: usize) -> Self {
        Bound {
            max: option.min(share),
            by_memory: share < option,
        }
    }
}

/// Each share, in sixteenths of the analyzer's budget (the slack is in the tables' bounds:
/// charged as doubled, and rounded down to a power of two).
const ACTIVE: usize = 4;
const HALF_OPEN: usize = 2;
const FINISHED: usize = 2;
const BUFFERS: usize = 3;
const UDP: usize = 1;
const UDP_DONE: usize = 1;
const UDP_BUFFERS: usize = 1;
const FRAGMENTS: usize = 1;
const FINGERPRINTS: usize = 1;

/// Most entries of a hashbrown table whose slots are `slot` bytes (the entry and its control
/// byte) and which hold `heap` bytes more each, within `share` bytes: `7/8 · 2^k` entries fill
/// `2^k` slots, and a table whose evictions left deleted slots behind doubles once more
/// (hashbrown reclaims them in place only while at most half full), so `2^(k+1)` slots are
/// paid for.
pub(crate) fn hash_entries(share: usize, slot: usize, heap: usize) -> usize {
    let mut k = 3;
    let fits = |k: u32| (2usize << k) * slot + (7usize << k) / 8 * heap <= share;
    while k < 40 && fits(k + 1) {
        k += 1;
    }
    (7usize << k) / 8
}

/// Most entries of a [`crate::finished::FinishedFlows`] within `share` bytes: its large table
/// has at most `4/3 n` slots rounded up to a power of two, of 8 bytes, beside the recent one.
fn finished_entries(share: usize) -> usize {
    let slots = (share.saturating_sub(crate::finished::RECENT_BYTES) / 8).max(2);
    // The largest power of two within the share, three quarters of it (less the one the
    // table adds before growing).
    let pow = 1usize << (usize::BITS - 1 - slots.leading_zeros());
    (pow / 4 * 3).saturating_sub(1).max(1)
}

/// The bounds the memory budget sets, each with the option it is clamped with.
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    /// Flows being followed (beside `max_flows`, which counts every entry).
    pub(crate) active: Bound,
    pub(crate) half_open: Bound,
    pub(crate) finished: Bound,
    /// Bytes held in the TCP flows' buffers.
    pub(crate) buffers: Bound,
    /// UDP exchanges followed, and remembered once reported.
    pub(crate) udp: Bound,
    pub(crate) udp_done: Bound,
    pub(crate) udp_buffers: Bound,
    /// Bytes of IP fragments held.
    pub(crate) fragments: Bound,
    /// Bytes of each of the fingerprint cache's three tables.
    pub(crate) fingerprints: Bound,
}

impl Bounds {
    pub(crate) fn of(cfg: &FlowConfig) -> Self {
        let m = cfg.max_memory;
        let share = |n: usize| m / 16 * n;
        let unbounded = usize::MAX;
        let (active_slot, active_heap) = crate::flow::active_entry_cost();
        let (udp_slot, udp_heap, udp_done_slot) = crate::udp::entry_cost();
        let ifm = |share: usize| if m == 0 { unbounded } else { share };
        Bounds {
            active: Bound::of(
                cfg.max_flows,
                ifm(hash_entries(share(ACTIVE), active_slot, active_heap)),
            ),
            half_open: Bound::of(
                crate::flow::half_open_cap(cfg.max_flows),
                ifm(hash_entries(
                    share(HALF_OPEN),
                    crate::flow::half_open_slot(),
                    0,
                )),
            ),
            finished: Bound::of(cfg.max_flows, ifm(finished_entries(share(FINISHED)))),
            buffers: Bound::of(cfg.max_buffer_total, ifm(share(BUFFERS))),
            udp: Bound::of(
                cfg.max_flows,
                ifm(hash_entries(share(UDP), udp_slot, udp_heap)),
            ),
            udp_done: Bound::of(
                cfg.max_flows,
                ifm(hash_entries(share(UDP_DONE), udp_done_slot, 0)),
            ),
            udp_buffers: Bound::of(cfg.max_buffer_total, ifm(share(UDP_BUFFERS))),
            fragments: Bound::of(cfg.defrag.max_bytes, ifm(share(FRAGMENTS))),
            fingerprints: Bound::of(
                crate::fingerprint_cache::MAX_BYTES,
                ifm(share(FINGERPRINTS) / 3),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_entries_pay_for_the_doubled_table() {
        // 2^(k+1) slots of 64 bytes within 1 MiB: k + 1 = 14, 7/8 of 2^13 entries.
        assert_eq!(hash_entries(1 << 20, 64, 0), 7168);
        // With 100 bytes more each: 2^13 · 64 + 3584 · 100 fits, 2^14 · 64 + 7168 · 100 not.
        assert_eq!(hash_entries(1 << 20, 64, 100), 3584);
        for (share, slot, heap) in [(1 << 20, 49, 0), (5 << 20, 65, 700), (123_456, 33, 9)] {
            let n = hash_entries(share, slot, heap);
            let slots = (n * 8 / 7).next_power_of_two() * 2;
            assert!(
                slots * slot + n * heap <= share,
                "{share} {slot} {heap}: {n}"
            );
        }
    }

    #[test]
    fn finished_entries_fit() {
        for share in [1 << 16, 1 << 20, 3 << 20, 16 << 20] {
            let n = finished_entries(share);
            let slots = (n * 4 / 3 + 1).next_power_of_two();
            assert!(
                slots * 8 + crate::finished::RECENT_BYTES <= share,
                "{share}: {n}"
            );
            assert!(slots * 8 * 2 > share - crate::finished::RECENT_BYTES);
        }
    }

    #[test]
    fn an_option_below_its_share_is_kept_and_not_counted_as_memory() {
        let cfg = FlowConfig {
            max_buffer_total: 1 << 20,
            max_memory: 256 << 20,
            ..FlowConfig::default()
        };
        let b = Bounds::of(&cfg);
        assert_eq!(
            b.buffers,
            Bound {
                max: 1 << 20,
                by_memory: false
            }
        );
        let small = FlowConfig {
            max_memory: 16 << 20,
            ..FlowConfig::default()
        };
        let b = Bounds::of(&small);
        assert_eq!(
            b.buffers,
            Bound {
                max: 3 << 20,
                by_memory: true
            }
        );
        assert!(b.active.by_memory && b.active.max < 1 << 20);
    }
}
