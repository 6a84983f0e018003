//! Finished flows: which connections were already decided, so that their later packets (the
//! client's ACKs, the encrypted data, the FINs) cost one lookup and nothing else.
//!
//! A table of millions of entries lives outside the caches, so what a lookup costs is the
//! cache lines it touches. Each entry is one `u64` in an open-addressed array (linear probing):
//! one line per lookup or insert, where a general hash map touches a control group and a
//! bucket; and 8 bytes per entry where it took 17.
//!
//! An entry packs two things:
//! - the upper 40 bits of the flow's keyed hash (random per run, so traffic cannot aim for a
//!   collision), its lowest forced to 1 so that no entry is zero (empty): a lookup matches
//!   another flow's entry with probability 2⁻³⁹ per entry compared. The home slot is taken
//!   from the same bits, so that a table can be rebuilt from its entries alone;
//! - the second of the flow's last packet, modulo 2²⁴ (194 days), for idle eviction: ages are
//!   taken modulo the same, and entries are swept well before they could wrap.
//!
//! Even one line is a miss to memory per finished flow when the table is large. So a flow
//! goes first into a small table of recent ones that stays in the cache, which is also where
//! its own later packets find it; when that is half full, its entries move to the large table
//! all at once. Those inserts do not depend on one another, so their misses overlap instead
//! of being paid one after the other.

/// Bits of an entry holding the last-seen second.
const SECS_BITS: u32 = 24;
const SECS_MASK: u64 = (1 << SECS_BITS) - 1;

/// Never an entry: every entry's tag has its lowest bit set.
const EMPTY: u64 = 0;

/// The large table starts with this many slots (a power of two) and doubles at three quarters
/// full.
const MIN_SLOTS: usize = 1 << 12;

/// Slots of the table of recent flows (32 KiB: it must stay in the cache beside the read
/// buffer and the output), moved on at half full. 2^10 to 2^14 measured alike.
const RECENT_SLOTS: usize = 1 << 12;

/// What the table of recent flows holds, whatever the number of entries.
pub(crate) const RECENT_BYTES: usize = RECENT_SLOTS * 8;

/// The tag of hash `h` in an entry's upper 40 bits, lowest bit forced so no entry is `EMPTY`.
#[inline(always)]
fn tag(h: u64) -> u64 {
    (h | (1 << SECS_BITS)) & !SECS_MASK
}

#[inline(always)]
fn entry(h: u64, secs: u32) -> u64 {
    tag(h) | (u64::from(secs) & SECS_MASK)
}

/// One open-addressed array of entries.
#[derive(Debug, Clone)]
struct Slots {
    slots: Vec<u64>,
    len: usize,
}

impl Slots {
    fn new(slots: usize) -> Self {
        Slots {
            slots: vec![EMPTY; slots],
            len: 0,
        }
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The home slot of a hash, or of an entry (which keeps the bits it is taken from).
    #[inline(always)]
    fn home(&self, h_or_entry: u64) -> usize {
        (h_or_entry >> (SECS_BITS + 1)) as usize & self.mask()
    }

    /// The slot holding the entry tagged `tag`, or the empty slot where it would go.
    #[inline(always)]
    fn find(&self, tag: u64) -> usize {
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let e = self.slots[i];
            if e == EMPTY || e & !SECS_MASK == tag {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Replaces the entry with the same tag as `e`, if there is one.
    #[inline(always)]
    fn update(&mut self, e: u64) -> bool {
        let i = self.find(e & !SECS_MASK);
        if self.slots[i] == EMPTY {
            return false;
        }
        self.slots[i] = e;
        true
    }

    /// Adds `e`, or replaces the entry with its tag; the caller keeps room.
    #[inline(always)]
    fn put(&mut self, e: u64) {
        let i = self.find(e & !SECS_MASK);
        self.len += usize::from(self.slots[i] == EMPTY);
        self.slots[i] = e;
    }

    fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&e| e != EMPTY)
    }

    /// The entries for which `keep` holds, put afresh into `slots` slots (linear probing
    /// cannot leave holes in a run).
    fn rebuild(&mut self, slots: usize, keep: impl Fn(u64) -> bool) {
        let old = std::mem::replace(self, Slots::new(slots));
        self.put_all(old.entries().filter(|&e| keep(e)));
    }

    /// Puts many entries, 32 at a time: the home slots of a group are read first, without a
    /// branch between the reads, so that their misses overlap; the puts then find their lines
    /// in the cache. (Put one by one, each waited for its own miss.)
    fn put_all(&mut self, entries: impl Iterator<Item = u64>) {
        let mut group = [EMPTY; 32];
        let mut entries = entries.peekable();
        while entries.peek().is_some() {
            let mut n = 0;
            for (slot, e) in group.iter_mut().zip(&mut entries) {
                *slot = e;
                n += 1;
            }
            let mut seen = 0;
            for &e in &group[..n] {
                seen |= self.slots[self.home(e)];
            }
            std::hint::black_box(seen);
            for &e in &group[..n] {
                self.put(e);
            }
        }
    }
}

/// Finished flows by the keyed hash of their endpoints, with the second each was last seen.
#[derive(Debug, Clone)]
pub(crate) struct FinishedFlows {
    recent: Slots,
    older: Slots,
}

impl Default for FinishedFlows {
    fn default() -> Self {
        FinishedFlows {
            recent: Slots::new(RECENT_SLOTS),
            older: Slots::new(MIN_SLOTS),
        }
    }
}

impl FinishedFlows {
    /// Entries held (a flow finished again while its older entry waits is counted twice until
    /// the move).
    pub(crate) fn len(&self) -> usize {
        self.recent.len + self.older.len
    }

    /// If `h` is a finished flow, notes it was seen at `secs` and returns true.
    #[inline]
    pub(crate) fn touch(&mut self, h: u64, secs: u32) -> bool {
        let e = entry(h, secs);
        // Long flows outlive the recent table's moves: it is often empty, and then not read.
        (self.recent.len > 0 && self.recent.update(e)) || self.older.update(e)
    }

    /// Adds `h` (or notes it seen again) at `secs`.
    // Inline across codegen units: once per flow, from the flow table.
    #[inline]
    pub(crate) fn insert(&mut self, h: u64, secs: u32) {
        if 2 * (self.recent.len + 1) > RECENT_SLOTS {
            self.move_recent();
        }
        self.recent.put(entry(h, secs));
    }

    /// Moves the recent entries to the large table, grown first to hold them.
    fn move_recent(&mut self) {
        let need = self.older.len + self.recent.len;
        if 4 * need > 3 * self.older.slots.len() {
            let slots = (need * 4 / 3 + 1).next_power_of_two();
            self.older.rebuild(slots, |_| true);
        }
        // An entry of the same flow there is older: the recent one replaces it.
        self.older.put_all(self.recent.entries());
        self.recent.slots.fill(EMPTY);
        self.recent.len = 0;
    }

    /// Forgets every entry and gives back the memory of a grown table.
    pub(crate) fn clear(&mut self) {
        *self = FinishedFlows::default();
    }

    /// Keeps the entries last seen at most `max_age` seconds before `now` (ages taken modulo
    /// 2²⁴ seconds, as they are stored); the large table shrinks when most of it went.
    pub(crate) fn retain_seen_within(&mut self, now: u32, max_age: u32) {
        let now = u64::from(now);
        let young = |e: u64| (now.wrapping_sub(e) & SECS_MASK) <= u64::from(max_age);
        for (t, shrink) in [(&mut self.recent, false), (&mut self.older, true)] {
            let kept = t.entries().filter(|&e| young(e)).count();
            if kept == t.len {
                continue;
            }
            let slots = if shrink {
                (kept * 2)
                    .next_power_of_two()
                    .clamp(MIN_SLOTS, t.slots.len())
            } else {
                t.slots.len()
            };
            t.rebuild(slots, young);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes spread as a keyed hash spreads them.
    fn hashes(n: usize) -> Vec<u64> {
        let state = ahash::RandomState::with_seeds(1, 2, 3, 4);
        (0..n).map(|i| state.hash_one(i)).collect()
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let mut t = FinishedFlows::default();
        let hs = hashes(100_000);
        let (inside, outside) = hs.split_at(50_000);
        for (i, &h) in inside.iter().enumerate() {
            t.insert(h, i as u32);
        }
        assert_eq!(t.len(), inside.len());
        // Moved on from the recent table at half full; the large one never over three quarters.
        assert!(2 * t.recent.len <= RECENT_SLOTS);
        assert!(
            t.older.slots.len().is_power_of_two() && 4 * t.older.len <= 3 * t.older.slots.len()
        );
        assert!(inside.iter().all(|&h| t.touch(h, 7)));
        assert!(outside.iter().all(|&h| !t.touch(h, 7)));
        // Inserting again updates, it does not add (once moved to the large table).
        t.insert(inside[0], 9);
        t.move_recent();
        assert_eq!(t.len(), inside.len());
        assert!(t.touch(inside[0], 10));
    }

    #[test]
    fn hash_zero_and_all_ones_are_entries_like_any() {
        let mut t = FinishedFlows::default();
        assert!(!t.touch(0, 1));
        t.insert(0, 0);
        t.insert(u64::MAX, u32::MAX);
        assert!(t.touch(0, 5) && t.touch(u64::MAX, 5));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn sweep_keeps_the_young_and_shrinks() {
        let mut t = FinishedFlows::default();
        let hs = hashes(40_000);
        for (i, &h) in hs.iter().enumerate() {
            // Three quarters seen at second 100, a quarter at 1000.
            t.insert(h, if i % 4 == 0 { 1000 } else { 100 });
        }
        let grown = t.older.slots.len();
        t.retain_seen_within(1000, 120);
        assert_eq!(t.len(), 10_000);
        assert!(t.older.slots.len() < grown);
        for (i, &h) in hs.iter().enumerate() {
            assert_eq!(t.touch(h, 1000), i % 4 == 0, "{i}");
        }
        // Nothing old left: the sweep keeps the table as it is.
        let slots = t.older.slots.len();
        t.retain_seen_within(1000, 120);
        assert_eq!((t.len(), t.older.slots.len()), (10_000, slots));
    }

    #[test]
    fn ages_are_taken_modulo_the_stored_seconds() {
        let mut t = FinishedFlows::default();
        let wrap = 1u32 << SECS_BITS;
        t.insert(1 << 40, wrap - 10);
        // Ten seconds later, past the wrap of the stored seconds: still young.
        t.retain_seen_within(wrap + 5, 60);
        assert_eq!(t.len(), 1);
        t.retain_seen_within(wrap + 100, 60);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn clear_gives_back_a_grown_table() {
        let mut t = FinishedFlows::default();
        for h in hashes(10_000) {
            t.insert(h, 0);
        }
        t.clear();
        assert_eq!((t.len(), t.older.slots.len()), (0, MIN_SLOTS));
    }
}
