//! TCP stream reassembly for one direction, just far enough to read a handshake.
//!
//! In-order data is handed on straight from the packet, without a copy. Only bytes that
//! arrive ahead of a hole are held, as Suricata's streaming buffer holds them: one window of
//! bytes starting at the next expected byte, and a sorted map of the ranges of it that are
//! filled (adjacent ranges merged). A segment costs a lookup in that map and a copy of its
//! bytes, whatever arrived before it, so an attacker's thousands of tiny segments cost
//! linear time; and what is charged against the bound is what is really allocated (the
//! window's capacity and a fixed cost per range), so the bound is the real bound.
//!
//! When two copies of the same sequence range differ, the copy that first makes the bytes
//! contiguous wins (in-order data is delivered at once and never revised; among held
//! copies, the first to arrive) and the stream is flagged, since someone may be trying to
//! show the sensor one thing and the host another. Bytes that come again after they were
//! delivered are shown to the caller ([`Seen::Again`]), which alone knows what it kept of
//! them (the start of a ClientHello) and may [`StreamReassembler::rewind`] to read a copy
//! that disagrees, while it has not read what was delivered.

use std::collections::BTreeMap;

/// What one held range costs besides its bytes: its key and value in the map and its share
/// of the map's nodes (a B-tree node holds up to 11 pairs of 16 bytes plus edges and
/// lengths; counted at its emptiest, half full).
pub const RANGE_COST: usize = 64;

/// Most separate ranges held beyond a hole: past it, a segment that would open another
/// range is dropped (and the stream flagged `overflowed`).
pub const MAX_RANGES: usize = 1024;

/// Reassembly state of one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    next_seq: Option<u32>,
    /// Stream offset of `next_seq`: bytes delivered since the start.
    offset: u64,
    delivered: bool,
    alt_start: Option<u32>,
    /// Held bytes: `window[0]` is the byte at stream offset `window_start`.
    window: Vec<u8>,
    window_start: u64,
    /// Filled ranges of the window, as stream offsets `start -> end`, disjoint and not
    /// adjacent, all beyond `offset`.
    ranges: BTreeMap<u64, u64>,
    /// What `window` and `ranges` take, kept up to date: read on every packet of a flow.
    charged: usize,
    /// Segments were dropped because the out-of-order buffer was full.
    pub overflowed: bool,
    /// Two copies of the same bytes disagreed.
    pub overlap_conflict: bool,
    /// Retransmitted or duplicate bytes seen (already delivered).
    pub retransmitted_bytes: u64,
}

/// What [`StreamReassembler::on_segment_seen`] shows of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen<'a> {
    /// The stream's next bytes, in order, each exactly once.
    Fresh(&'a [u8]),
    /// Bytes that were delivered already (a retransmission, or a copy that disagrees),
    /// starting at stream offset `offset`.
    Again {
        /// Stream offset of `bytes[0]`.
        offset: u64,
        /// The bytes of this copy.
        bytes: &'a [u8],
    },
}

#[inline]
fn seq_diff(a: u32, b: u32) -> i64 {
    a.wrapping_sub(b) as i32 as i64
}

impl StreamReassembler {
    /// Records the SYN's sequence number: data starts one after it. A later SYN with another
    /// number (a new SYN-ACK after a TCP Fast Open cookie was refused) re-bases the stream,
    /// as long as no data has been delivered yet.
    pub fn on_syn(&mut self, seq: u32) {
        let start = seq.wrapping_add(1);
        match self.next_seq {
            None => self.next_seq = Some(start),
            Some(n) if n != start && !self.delivered && self.ranges.is_empty() => {
                // Two SYNs disagree; the first data segment will say which one holds.
                self.alt_start = Some(n);
                self.next_seq = Some(start);
            }
            _ => {}
        }
    }

    /// Drops the bytes held beyond a hole (memory pressure); the hole stays visible.
    pub fn shed(&mut self) {
        if !self.ranges.is_empty() {
            self.release();
            self.overflowed = true;
        }
    }

    fn release(&mut self) {
        self.window = Vec::new();
        self.ranges = BTreeMap::new();
        self.window_start = self.offset;
        self.charged = 0;
    }

    fn update_charge(&mut self) {
        self.charged = self.window.capacity() + self.ranges.len() * RANGE_COST;
    }

    /// True when `seq` lies beyond the next expected byte (a segment that arrived early).
    pub fn is_ahead(&self, seq: u32) -> bool {
        self.next_seq.is_some_and(|n| seq_diff(seq, n) > 0)
    }

    /// True when `seq` is the next expected byte, or no byte is expected yet.
    pub fn is_next(&self, seq: u32) -> bool {
        self.next_seq.is_none_or(|n| n == seq)
    }

    /// True when bytes are held beyond a hole.
    pub fn has_hole(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Bytes allocated to hold data out of order: the window's capacity and
    /// [`RANGE_COST`] per held range.
    pub fn pending_bytes(&self) -> usize {
        self.charged
    }

    /// Separate ranges held beyond a hole.
    pub fn held_ranges(&self) -> usize {
        self.ranges.len()
    }

    /// Stream offset of the next expected byte: bytes delivered since the start.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next expected sequence number, once known.
    pub fn next_seq(&self) -> Option<u32> {
        self.next_seq
    }

    /// Stream offset of sequence number `seq` (negative before the stream's start), once the
    /// start is known.
    pub fn offset_of(&self, seq: u32) -> Option<i64> {
        self.next_seq.map(|n| self.offset as i64 + seq_diff(seq, n))
    }

    /// Goes back to stream offset `to` (at most [`Self::offset`]) so that the bytes from
    /// there are delivered again from the next copy that carries them: for a caller that
    /// did not read them and learnt that another copy is the right one. Refused (false)
    /// while bytes are held beyond a hole.
    pub fn rewind(&mut self, to: u64) -> bool {
        if !self.ranges.is_empty() || to > self.offset {
            return false;
        }
        let back = self.offset - to;
        self.next_seq = self.next_seq.map(|s| s.wrapping_sub(back as u32));
        self.offset = to;
        self.window_start = to;
        true
    }

    /// Feeds a segment; `deliver` receives the stream's bytes in order, each exactly once.
    /// `cap` bounds what holding bytes out of order may allocate ([`Self::pending_bytes`]).
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        cap: usize,
        deliver: &mut impl FnMut(&[u8]),
    ) {
        self.on_segment_seen(seq, payload, cap, &mut |s| {
            if let Seen::Fresh(b) = s {
                deliver(b)
            }
        })
    }

    /// [`Self::on_segment`], also showing the bytes of the segment that were delivered
    /// before ([`Seen::Again`], before the fresh ones).
    pub fn on_segment_seen(
        &mut self,
        seq: u32,
        payload: &[u8],
        cap: usize,
        deliver: &mut impl FnMut(Seen<'_>),
    ) {
        if payload.is_empty() {
            return;
        }
        // Without a SYN (capture started mid-connection), the first data defines the start.
        let mut next = *self.next_seq.get_or_insert(seq);
        if !self.delivered && seq != next && self.alt_start == Some(seq) {
            self.alt_start = Some(next);
            next = seq;
            self.next_seq = Some(seq);
        }
        let d = seq_diff(seq, next);
        let mut fresh = payload;
        if d != 0 {
            if d > 0 {
                self.hold(self.offset + d as u64, payload, cap);
                return;
            }
            let skip = ((-d) as usize).min(payload.len());
            self.retransmitted_bytes += skip as u64;
            // Bytes before the stream's start (the SYN's own number, a keep-alive probe's
            // byte before the first data) have nothing to be compared with.
            let before_start = ((-d) as u64).saturating_sub(self.offset) as usize;
            if before_start < skip {
                deliver(Seen::Again {
                    offset: self.offset.saturating_sub((-d) as u64),
                    bytes: &payload[before_start..skip],
                });
            }
            if skip == payload.len() {
                return;
            }
            fresh = &payload[skip..];
        }
        self.delivered = true;
        if !self.ranges.is_empty() {
            self.check_against_held(fresh);
        }
        self.advance(fresh.len());
        deliver(Seen::Fresh(fresh));
        if !self.ranges.is_empty() {
            self.drain(deliver);
        }
    }

    fn advance(&mut self, n: usize) {
        self.offset += n as u64;
        self.next_seq = self.next_seq.map(|s| s.wrapping_add(n as u32));
    }

    /// Window index of stream offset `off` (at or after `window_start`).
    #[inline]
    fn at(&self, off: u64) -> usize {
        (off - self.window_start) as usize
    }

    /// Holds `payload`, at stream offset `start` beyond the next expected byte. Bytes
    /// already held are kept (and compared); only the gaps between them are filled.
    fn hold(&mut self, start: u64, payload: &[u8], cap: usize) {
        let end = start + payload.len() as u64;
        // Ranges that overlap or touch [start, end): they merge with it.
        let first = self
            .ranges
            .range(..=start)
            .next_back()
            .filter(|(_, &e)| e >= start)
            .map(|(&s, _)| s)
            .unwrap_or(start);
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(first..=end)
            .map(|(&s, &e)| (s, e))
            .collect();
        let merged_start = touching.first().map_or(start, |r| r.0.min(start));
        let merged_end = touching.last().map_or(end, |r| r.1.max(end));
        if touching.len() == 1 && merged_start == touching[0].0 && merged_end == touching[0].1 {
            // Wholly inside a held range: a retransmission of held bytes.
            self.compare(start, payload);
            return;
        }
        let ranges_after = self.ranges.len() + 1 - touching.len();
        if ranges_after > MAX_RANGES {
            self.overflowed = true;
            return;
        }
        if self.ranges.is_empty() {
            self.window.clear();
            self.window_start = self.offset;
        }
        // Bytes before `offset` are dead: drop them when that makes room or when they are
        // at least half the window (so each byte is moved a bounded number of times).
        let dead = (self.offset - self.window_start) as usize;
        let needed = (merged_end - self.window_start) as usize;
        if dead > 0 && (needed + ranges_after * RANGE_COST > cap || dead * 2 >= self.window.len()) {
            self.window.drain(..dead.min(self.window.len()));
            self.window_start = self.offset;
        }
        let needed = (merged_end - self.window_start) as usize;
        let ranges_cost = ranges_after * RANGE_COST;
        if needed > self.window.capacity() {
            // Grow by doubling, within the bound; never past it.
            let room = cap.saturating_sub(ranges_cost);
            if needed > room {
                self.overflowed = true;
                return;
            }
            let target = needed.max(self.window.capacity() * 2).min(room);
            self.window.reserve_exact(target - self.window.len());
        } else if self.window.capacity() + ranges_cost > cap {
            self.overflowed = true;
            return;
        }
        if self.window.len() < needed {
            self.window.resize(needed, 0);
        }
        // Compare with what is held; fill the gaps.
        let mut cursor = start;
        for &(s, e) in &touching {
            if s > cursor && cursor < end {
                let gap_end = s.min(end);
                self.put(
                    cursor,
                    &payload[(cursor - start) as usize..(gap_end - start) as usize],
                );
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            self.put(cursor, &payload[(cursor - start) as usize..]);
        }
        self.compare(start, payload);
        for (s, _) in &touching {
            self.ranges.remove(s);
        }
        self.ranges.insert(merged_start, merged_end);
        self.update_charge();
    }

    fn put(&mut self, off: u64, bytes: &[u8]) {
        let i = self.at(off);
        self.window[i..i + bytes.len()].copy_from_slice(bytes);
    }

    /// Flags a conflict when `bytes` at stream offset `start` differ from held bytes there.
    fn compare(&mut self, start: u64, bytes: &[u8]) {
        if self.overlap_conflict {
            return;
        }
        let end = start + bytes.len() as u64;
        let first = self
            .ranges
            .range(..=start)
            .next_back()
            .filter(|(_, &e)| e > start)
            .map(|(&s, _)| s)
            .unwrap_or(start);
        for (&s, &e) in self.ranges.range(first..end) {
            let (a, b) = (s.max(start), e.min(end));
            if a >= b {
                continue;
            }
            let held = &self.window[self.at(a)..self.at(b)];
            if held != &bytes[(a - start) as usize..(b - start) as usize] {
                self.overlap_conflict = true;
                return;
            }
        }
    }

    /// Compares freshly delivered bytes (at `offset`) with held bytes covering them.
    fn check_against_held(&mut self, fresh: &[u8]) {
        self.compare(self.offset, fresh);
    }

    /// Delivers held bytes that the stream now reaches, and forgets those behind it.
    fn drain(&mut self, deliver: &mut impl FnMut(Seen<'_>)) {
        while let Some((&s, &e)) = self.ranges.first_key_value() {
            if s > self.offset {
                break;
            }
            self.ranges.remove(&s);
            if e > self.offset {
                let (a, b) = (self.at(self.offset), self.at(e));
                let n = b - a;
                self.advance(n);
                deliver(Seen::Fresh(&self.window[a..b]));
            }
        }
        if self.ranges.is_empty() {
            self.release();
        } else {
            self.update_charge();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segs: &[(u32, &[u8])]) -> (Vec<u8>, StreamReassembler) {
        let mut r = StreamReassembler::default();
        r.on_syn(99);
        let mut out = Vec::new();
        for (s, p) in segs {
            r.on_segment(*s, p, 1 << 16, &mut |b| out.extend_from_slice(b));
        }
        (out, r)
    }

    #[test]
    fn in_order_out_of_order_duplicate_overlap() {
        let (out, r) = run(&[(100, b"abc"), (103, b"def")]);
        assert_eq!(out, b"abcdef");
        assert!(!r.has_hole());
        let (out, r) = run(&[(103, b"def"), (100, b"abc")]);
        assert_eq!(out, b"abcdef");
        assert!(!r.has_hole());
        let (out, _) = run(&[(100, b"abc"), (100, b"abc"), (102, b"cdef")]);
        assert_eq!(out, b"abcdef");
        let (out, r) = run(&[(106, b"g"), (103, b"de"), (100, b"abcdef")]);
        assert_eq!(out, b"abcdefg");
        assert!(!r.overlap_conflict);
        assert_eq!(r.pending_bytes(), 0);
    }

    /// Bytes that come again are shown with their stream offset (those before the stream's
    /// start are not); after a rewind, the next copy is delivered from there.
    #[test]
    fn bytes_seen_again_and_rewind() {
        let mut r = StreamReassembler::default();
        r.on_syn(99);
        let mut seen = Vec::new();
        let mut feed = |r: &mut StreamReassembler, seq: u32, p: &[u8]| {
            r.on_segment_seen(seq, p, 1 << 16, &mut |s| {
                seen.push(match s {
                    Seen::Fresh(b) => (None, b.to_vec()),
                    Seen::Again { offset, bytes } => (Some(offset), bytes.to_vec()),
                })
            })
        };
        feed(&mut r, 100, b"xy");
        feed(&mut r, 99, b"-ab");
        feed(&mut r, 101, b"bcd");
        assert_eq!(
            seen,
            [
                (None, b"xy".to_vec()),
                (Some(0), b"ab".to_vec()),
                (Some(1), b"b".to_vec()),
                (None, b"cd".to_vec()),
            ]
        );
        assert_eq!(r.offset_of(100), Some(0));
        assert_eq!(r.offset_of(99), Some(-1));
        assert!(!r.rewind(5));
        assert!(r.rewind(0));
        assert_eq!(r.offset(), 0);
        let (mut out, r2) = (Vec::new(), &mut r);
        r2.on_segment(100, b"abcde", 1 << 16, &mut |b| out.extend_from_slice(b));
        assert_eq!(out, b"abcde");
        // Not while bytes are held beyond a hole.
        r2.on_segment(110, b"z", 1 << 16, &mut |_| {});
        assert!(!r2.rewind(0));
    }

    #[test]
    fn hole_that_never_fills() {
        let (out, r) = run(&[(100, b"abc"), (110, b"xyz")]);
        assert_eq!(out, b"abc");
        assert!(r.has_hole());
    }

    #[test]
    fn conflicting_overlap_first_copy_wins_and_is_flagged() {
        let (out, r) = run(&[(103, b"XYZ"), (100, b"abcdef")]);
        assert_eq!(out, b"abcdef");
        assert!(r.overlap_conflict);
    }

    #[test]
    fn out_of_order_buffer_is_bounded() {
        let mut r = StreamReassembler::default();
        r.on_syn(0);
        let big = vec![0u8; 1000];
        for i in 0..10u32 {
            r.on_segment(5000 + i * 1000, &big, 4000, &mut |_| {});
        }
        assert!(r.pending_bytes() <= 4000);
        assert!(r.overflowed);
    }

    #[test]
    fn sequence_wraps() {
        let mut r = StreamReassembler::default();
        r.on_syn(u32::MAX - 1);
        let mut out = Vec::new();
        r.on_segment(u32::MAX, b"ab", 100, &mut |b| out.extend_from_slice(b));
        r.on_segment(1, b"cd", 100, &mut |b| out.extend_from_slice(b));
        assert_eq!(out, b"abcd");
    }

    /// Found by a review: 65 535 one-byte segments behind a hole were held as 65 535
    /// allocations, searched linearly and rescanned on drain. They are one range now, and
    /// what they cost is charged.
    #[test]
    fn one_byte_segments_behind_a_hole_are_one_range_and_charged() {
        let n = 65_535u32;
        let cap = 128 * 1024;
        let forward: Vec<u32> = (1..=n).collect();
        let backward: Vec<u32> = (1..=n).rev().collect();
        for order in [forward, backward] {
            let mut r = StreamReassembler::default();
            r.on_syn(0);
            let mut out = Vec::new();
            // Stream byte `i` is `i as u8`; byte 0 is the hole.
            for i in order {
                r.on_segment(1 + i, &[i as u8], cap, &mut |b| out.extend_from_slice(b));
                assert!(r.pending_bytes() <= cap);
            }
            assert!(out.is_empty());
            assert_eq!(r.held_ranges(), 1);
            assert!(!r.overflowed);
            let charged = r.pending_bytes();
            assert!(charged >= n as usize + RANGE_COST, "held bytes are charged");
            assert!(
                charged <= 2 * (n as usize + 1),
                "window at most doubled: {charged}"
            );
            r.on_segment(1, &[0], cap, &mut |b| out.extend_from_slice(b));
            let want: Vec<u8> = (0..=n).map(|i| i as u8).collect();
            assert_eq!(out, want);
            assert_eq!(r.pending_bytes(), 0);
            assert!(!r.has_hole());
        }
    }

    /// Every other byte behind a hole: each is its own range, so the range count and the
    /// charge per range bound them, well before 32 768 ranges.
    #[test]
    fn scattered_segments_are_capped_by_count_and_by_charge() {
        let mut r = StreamReassembler::default();
        r.on_syn(0);
        let cap = 1 << 20;
        for i in 0..30_000u32 {
            r.on_segment(3 + 2 * i, b"x", cap, &mut |_| {});
            assert!(r.pending_bytes() <= cap);
        }
        assert_eq!(r.held_ranges(), MAX_RANGES);
        assert!(r.overflowed);
        let mut r = StreamReassembler::default();
        r.on_syn(0);
        let cap = 8 * 1024;
        for i in 0..1000u32 {
            r.on_segment(3 + 2 * i, b"x", cap, &mut |_| {});
            assert!(r.pending_bytes() <= cap);
        }
        assert!(r.held_ranges() * RANGE_COST < cap);
        assert!(r.held_ranges() > 50);
        assert!(r.overflowed);
    }

    #[test]
    fn held_copies_first_arrival_wins_and_conflicts_are_flagged() {
        let (out, r) = run(&[(103, b"XYZ"), (103, b"QRSTU"), (100, b"abc")]);
        assert_eq!(out, b"abcXYZTU");
        assert!(r.overlap_conflict);
        let (out, r) = run(&[(104, b"e"), (102, b"cdefg"), (100, b"ab")]);
        assert_eq!(out, b"abcdefg");
        assert!(!r.overlap_conflict);
        assert_eq!(r.pending_bytes(), 0);
    }

    /// The simplest reassembler there is, one slot per byte: in-order bytes are delivered
    /// as they come, bytes ahead fill empty slots only (the first copy wins).
    pub(crate) fn reference(start: u32, segs: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut slots: std::collections::HashMap<u64, u8> = Default::default();
        let mut at = 0u64;
        let mut out = Vec::new();
        for (seq, p) in segs {
            let d = seq_diff(*seq, start.wrapping_add(at as u32));
            let off = at as i64 + d;
            for (k, &b) in p.iter().enumerate() {
                let o = off + k as i64;
                if o < at as i64 {
                    continue;
                }
                if o == at as i64 && d <= 0 {
                    out.push(b);
                    at += 1;
                } else if d <= 0 {
                    unreachable!()
                } else {
                    slots.entry(o as u64).or_insert(b);
                }
            }
            while let Some(b) = slots.remove(&at) {
                out.push(b);
                at += 1;
            }
            slots.retain(|&o, _| o >= at);
        }
        out
    }

    #[test]
    fn agrees_with_the_reference_on_random_segments() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..2000 {
            let isn = rnd(1 << 32) as u32;
            let segs: Vec<(u32, Vec<u8>)> = (0..rnd(12) + 1)
                .map(|_| {
                    let len = rnd(8) as usize + 1;
                    let at = rnd(40) as u32;
                    let fill = rnd(3) as u8;
                    (
                        isn.wrapping_add(at),
                        (0..len)
                            .map(|k| (at as u8).wrapping_add(k as u8) ^ fill)
                            .collect(),
                    )
                })
                .collect();
            let mut r = StreamReassembler::default();
            r.on_syn(isn.wrapping_sub(1));
            let mut out = Vec::new();
            for (s, p) in &segs {
                r.on_segment(*s, p, 1 << 20, &mut |b| out.extend_from_slice(b));
                let allocated = r.window.capacity() + r.ranges.len() * RANGE_COST;
                assert_eq!(
                    r.pending_bytes(),
                    allocated,
                    "the charge is kept up to date"
                );
            }
            assert_eq!(out, reference(isn, &segs), "{segs:?}");
        }
    }
}
