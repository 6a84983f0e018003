//! TCP stream reassembly for one direction, just far enough to read a handshake.
//!
//! In-order data is handed on straight from the packet, without a copy. Only segments that
//! arrive ahead of a hole are held, and never more than the configured number of bytes. When
//! two copies of the same sequence range differ, the copy that first makes the bytes
//! contiguous wins (in-order data is delivered at once and never revised) and the stream is
//! flagged, since someone may be trying to show the sensor one thing and the host another.

/// Reassembly state of one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    next_seq: Option<u32>,
    delivered: bool,
    alt_start: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    /// Segments were dropped because the out-of-order buffer was full.
    pub overflowed: bool,
    /// Two copies of the same bytes disagreed.
    pub overlap_conflict: bool,
    /// Retransmitted or duplicate bytes seen (already delivered).
    pub retransmitted_bytes: u64,
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
            Some(n) if n != start && !self.delivered && self.pending.is_empty() => {
                // Two SYNs disagree; the first data segment will say which one holds.
                self.alt_start = Some(n);
                self.next_seq = Some(start);
            }
            _ => {}
        }
    }

    /// Drops the segments held beyond a hole (memory pressure); the hole stays visible.
    pub fn shed(&mut self) {
        if !self.pending.is_empty() {
            self.pending = Vec::new();
            self.pending_bytes = 0;
            self.overflowed = true;
        }
    }

    /// True when `seq` lies beyond the next expected byte (a segment that arrived early).
    pub fn is_ahead(&self, seq: u32) -> bool {
        self.next_seq.is_some_and(|n| seq_diff(seq, n) > 0)
    }

    /// True when segments are held beyond a hole.
    pub fn has_hole(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes held out of order.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Feeds a segment; `deliver` receives the stream's bytes in order, each exactly once.
    /// `cap` bounds the bytes held out of order.
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        cap: usize,
        deliver: &mut impl FnMut(&[u8]),
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
        if d > 0 {
            self.hold(seq, payload, cap);
            return;
        }
        let skip = (-d) as usize;
        if skip >= payload.len() {
            self.retransmitted_bytes += payload.len() as u64;
            return;
        }
        self.retransmitted_bytes += skip as u64;
        let fresh = &payload[skip..];
        self.next_seq = Some(next.wrapping_add(fresh.len() as u32));
        self.delivered = true;
        self.check_against_pending(next, fresh);
        deliver(fresh);
        self.drain(deliver);
    }

    fn hold(&mut self, seq: u32, payload: &[u8], cap: usize) {
        if let Some((_, held)) = self.pending.iter().find(|(s, _)| *s == seq) {
            let n = held.len().min(payload.len());
            if held[..n] != payload[..n] {
                self.overlap_conflict = true;
            }
            if held.len() >= payload.len() {
                return;
            }
        }
        if self.pending_bytes + payload.len() > cap {
            self.overflowed = true;
            return;
        }
        self.pending_bytes += payload.len();
        self.pending.push((seq, payload.to_vec()));
    }

    /// Compares freshly delivered bytes starting at `start` with held segments covering them.
    fn check_against_pending(&mut self, start: u32, fresh: &[u8]) {
        for (s, held) in &self.pending {
            let off = seq_diff(*s, start);
            if off < 0 || off as usize >= fresh.len() {
                continue;
            }
            let off = off as usize;
            let n = held.len().min(fresh.len() - off);
            if held[..n] != fresh[off..off + n] {
                self.overlap_conflict = true;
            }
        }
    }

    fn drain(&mut self, deliver: &mut impl FnMut(&[u8])) {
        loop {
            let Some(next) = self.next_seq else { return };
            // The held segment that starts at or before `next` and reaches furthest.
            let mut best: Option<usize> = None;
            for (i, (s, held)) in self.pending.iter().enumerate() {
                if seq_diff(*s, next) <= 0 {
                    let end = seq_diff(s.wrapping_add(held.len() as u32), next);
                    if end > 0
                        && best.is_none_or(|b| {
                            let (bs, bh) = &self.pending[b];
                            end > seq_diff(bs.wrapping_add(bh.len() as u32), next)
                        })
                    {
                        best = Some(i);
                    }
                }
            }
            // Drop segments wholly behind `next` (already delivered).
            let before = self.pending.len();
            let mut freed = 0;
            self.pending.retain(|(s, h)| {
                let keep = seq_diff(s.wrapping_add(h.len() as u32), next) > 0;
                if !keep {
                    freed += h.len();
                }
                keep
            });
            self.pending_bytes -= freed;
            if before != self.pending.len() {
                // Indices moved; look again.
                continue;
            }
            let Some(i) = best else { return };
            let (s, held) = self.pending.swap_remove(i);
            self.pending_bytes -= held.len();
            let skip = (-seq_diff(s, next)) as usize;
            let fresh = &held[skip..];
            self.next_seq = Some(next.wrapping_add(fresh.len() as u32));
            deliver(fresh);
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
}
