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

/// Bits of an entry holding the last-seen second.
const SECS_BITS: u32 = 24;
const SECS_MASK: u64 = (1 << SECS_BITS) - 1;

/// Never an entry: every entry's tag has its lowest bit set.
const EMPTY: u64 = 0;

/// The table starts with this many slots (a power of two) and doubles at three quarters full.
const MIN_SLOTS: usize = 1 << 12;

/// Finished flows by the keyed hash of their endpoints, with the second each was last seen.
#[derive(Debug, Clone)]
pub(crate) struct FinishedFlows {
    slots: Vec<u64>,
    len: usize,
}

impl Default for FinishedFlows {
    fn default() -> Self {
        FinishedFlows {
            slots: vec![EMPTY; MIN_SLOTS],
            len: 0,
        }
    }
}

/// The tag of hash `h` in an entry's upper 40 bits, lowest bit forced so no entry is `EMPTY`.
#[inline(always)]
fn tag(h: u64) -> u64 {
    (h | (1 << SECS_BITS)) & !SECS_MASK
}

#[inline(always)]
fn entry(h: u64, secs: u32) -> u64 {
    tag(h) | (u64::from(secs) & SECS_MASK)
}

impl FinishedFlows {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The home slot of a hash, or of an entry (which keeps the bits it is taken from).
    #[inline(always)]
    fn home(&self, h_or_entry: u64) -> usize {
        (h_or_entry >> (SECS_BITS + 1)) as usize & self.mask()
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `h`, or the empty slot where it would go.
    #[inline(always)]
    fn find(&self, h: u64) -> usize {
        let (mask, tag) = (self.mask(), tag(h));
        let mut i = self.home(h);
        loop {
            let e = self.slots[i];
            if e == EMPTY || e & !SECS_MASK == tag {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// If `h` is a finished flow, notes it was seen at `secs` and returns true.
    #[inline]
    pub(crate) fn touch(&mut self, h: u64, secs: u32) -> bool {
        let i = self.find(h);
        if self.slots[i] == EMPTY {
            return false;
        }
        self.slots[i] = entry(h, secs);
        true
    }

    /// Adds `h` (or notes it seen again) at `secs`.
    pub(crate) fn insert(&mut self, h: u64, secs: u32) {
        if 4 * (self.len + 1) > 3 * self.slots.len() {
            self.rebuild(2 * self.slots.len(), |_| true);
        }
        let i = self.find(h);
        if self.slots[i] == EMPTY {
            self.len += 1;
        }
        self.slots[i] = entry(h, secs);
    }

    /// Forgets every entry and gives back the memory of a grown table.
    pub(crate) fn clear(&mut self) {
        *self = FinishedFlows::default();
    }

    /// Keeps the entries last seen at most `max_age` seconds before `now` (ages taken modulo
    /// 2²⁴ seconds, as they are stored); the table shrinks when most of it went.
    pub(crate) fn retain_seen_within(&mut self, now: u32, max_age: u32) {
        let now = u64::from(now);
        let young = |e: u64| (now.wrapping_sub(e) & SECS_MASK) <= u64::from(max_age);
        let kept = self
            .slots
            .iter()
            .filter(|&&e| e != EMPTY && young(e))
            .count();
        if kept == self.len {
            return;
        }
        // Linear probing cannot leave holes in a run, so the survivors are put in afresh.
        let slots = (kept * 2).next_power_of_two().max(MIN_SLOTS);
        self.rebuild(slots.min(self.slots.len()), young);
    }

    /// Moves the entries for which `keep` holds into a table of `slots` slots.
    fn rebuild(&mut self, slots: usize, keep: impl Fn(u64) -> bool) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        self.len = 0;
        let mask = self.mask();
        for e in old.into_iter().filter(|&e| e != EMPTY && keep(e)) {
            let mut i = self.home(e);
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = e;
            self.len += 1;
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
        // Grown by doubling, never over three quarters full.
        assert!(t.slots.len().is_power_of_two() && 4 * t.len() <= 3 * t.slots.len());
        assert!(inside.iter().all(|&h| t.touch(h, 7)));
        assert!(outside.iter().all(|&h| !t.touch(h, 7)));
        // Inserting again updates, it does not add.
        t.insert(inside[0], 9);
        assert_eq!(t.len(), inside.len());
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
        let grown = t.slots.len();
        t.retain_seen_within(1000, 120);
        assert_eq!(t.len(), 10_000);
        assert!(t.slots.len() < grown);
        for (i, &h) in hs.iter().enumerate() {
            assert_eq!(t.touch(h, 1000), i % 4 == 0, "{i}");
        }
        // Nothing old left: the sweep keeps the table as it is.
        let slots = t.slots.len();
        t.retain_seen_within(1000, 120);
        assert_eq!((t.len(), t.slots.len()), (10_000, slots));
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
        assert_eq!((t.len(), t.slots.len()), (0, MIN_SLOTS));
    }
}
